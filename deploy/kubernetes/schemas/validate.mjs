// Validates prometheus-operator custom resources against the CRD OpenAPI schemas, as compiled
// (ajv) by @kubernetes-models/prometheus-operator. Reads a JSON array of resources on stdin,
// prints one JSON result per resource on stdout, exits 1 if any is invalid or of an unknown kind.
//   python: subprocess.run(["node", "deploy/kubernetes/schemas/validate.mjs"], input=json.dumps(docs))
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const KINDS = { PrometheusRule, ServiceMonitor };

let input = "";
for await (const chunk of process.stdin) input += chunk;

let failed = false;
for (const resource of JSON.parse(input)) {
  const name = `${resource.kind}/${resource.metadata?.name}`;
  const Model = KINDS[resource.kind];
  if (resource.apiVersion !== "monitoring.coreos.com/v1" || !Model) {
    failed = true;
    console.log(JSON.stringify({ name, ok: false, error: `no schema for ${resource.apiVersion} ${resource.kind}` }));
    continue;
  }
  try {
    new Model(resource).validate();
    console.log(JSON.stringify({ name, ok: true }));
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ name, ok: false, error: error.message }));
  }
}
process.exit(failed ? 1 : 0);
