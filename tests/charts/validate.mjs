// Validates every document of a rendered manifest stream (helm template output) offline, as a Kubernetes 1.30 API
// server would see it. Usage: node validate.mjs [file]   (reads stdin without a file)
//
// Prints one line per document ("ok", "INVALID" or "UNKNOWN", then apiVersion kind/name and the reasons) and exits
// 1 when any document is invalid or of a kind nothing here can validate, 2 on a stream that is not YAML.
//
// What is checked, and what is not:
// - Built-in kinds: the JSON schemas of kubernetes-models (types, required fields, enums, formats such as quantities
//   and int-or-string). Its schemas come from a newer Kubernetes than 1.30 (it has resource.k8s.io/v1, 1.34); no
//   kubernetes-models release carries exactly 1.30 (4.4.x stops before native sidecars, 1.28; 4.5.x already has
//   1.33's stopSignal). So two checks pin 1.30 on top: the apiVersion must be one a 1.30 server serves by default
//   (SERVED_BY_1_30), and pod templates must not use the fields newer releases added (NEWER_THAN_1_30).
// - ServiceMonitor (monitoring.coreos.com/v1): the prometheus-operator CRD schema (@kubernetes-models/prometheus-operator).
// - HTTPRoute, GRPCRoute, Gateway (gateway.networking.k8s.io/v1): the Gateway API CRD schemas (@kubernetes-models/gateway-api),
//   without the CRDs' CEL rules (x-kubernetes-validations), which only an API server evaluates.
// - Not checked anywhere: unknown field names (none of these schemas forbids extra properties; a 1.30 kubectl would
//   reject them with strict field validation), and cross-object references (a Service selecting no pod, a missing
//   Secret). The chart tests check the references that matter for this product themselves.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

/** Group/versions a Kubernetes 1.30 API server serves by default (betas that are off by default are left out). */
const SERVED_BY_1_30 = new Set([
  "v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1", "coordination.k8s.io/v1",
  "discovery.k8s.io/v1", "node.k8s.io/v1", "certificates.k8s.io/v1", "admissionregistration.k8s.io/v1",
  "apiextensions.k8s.io/v1", "events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1",
]);

/** Custom resources and the package whose schema validates them; the CRD itself must be installed in the cluster. */
const CUSTOM_RESOURCES = {
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  "gateway.networking.k8s.io/v1": "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1",
};

/** Fields the newer schema accepts but Kubernetes 1.30 does not know (release that added them), by where they sit. */
const NEWER_THAN_1_30 = {
  podSpec: { resources: "1.32", hostnameOverride: "1.34" },
  podSecurityContext: { supplementalGroupsPolicy: "1.31", seLinuxChangePolicy: "1.32" },
  container: { restartPolicyRules: "1.34" },
  lifecycle: { stopSignal: "1.33" },
  volume: { image: "1.31" },
};

const POD_SPEC_PATHS = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

function modulePath(apiVersion) {
  if (CUSTOM_RESOURCES[apiVersion]) return CUSTOM_RESOURCES[apiVersion];
  if (!SERVED_BY_1_30.has(apiVersion)) return null;
  return `kubernetes-models/${apiVersion}`;
}

function newerFieldErrors(kind, doc) {
  const path = POD_SPEC_PATHS[kind];
  if (!path) return [];
  const podSpec = path.reduce((node, key) => node?.[key], doc);
  if (!podSpec) return [];
  const errors = [];
  const check = (object, table, where) => {
    for (const [field, release] of Object.entries(table)) {
      if (object && Object.hasOwn(object, field)) {
        errors.push(`${where}/${field} exists only from Kubernetes ${release} on (1.30 drops it)`);
      }
    }
  };
  const at = "/" + path.join("/");
  check(podSpec, NEWER_THAN_1_30.podSpec, at);
  check(podSpec.securityContext, NEWER_THAN_1_30.podSecurityContext, `${at}/securityContext`);
  for (const list of ["initContainers", "containers"]) {
    (podSpec[list] ?? []).forEach((container, i) => {
      check(container, NEWER_THAN_1_30.container, `${at}/${list}/${i}`);
      check(container?.lifecycle, NEWER_THAN_1_30.lifecycle, `${at}/${list}/${i}/lifecycle`);
    });
  }
  (podSpec.volumes ?? []).forEach((volume, i) => check(volume, NEWER_THAN_1_30.volume, `${at}/volumes/${i}`));
  return errors;
}

async function validate(doc) {
  const { apiVersion, kind } = doc;
  const name = doc.metadata?.name ?? "(no name)";
  const label = `${apiVersion} ${kind}/${name}`;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return { status: "INVALID", label, reasons: ["apiVersion and kind must both be strings"] };
  }
  const path = modulePath(apiVersion);
  if (!path) {
    return { status: "INVALID", label, reasons: [`${apiVersion} is not served by a Kubernetes 1.30 API server (served: ${[...SERVED_BY_1_30].join(", ")}), and no custom resource schema here covers it`] };
  }
  const models = await import(path);
  const Model = models[kind];
  if (typeof Model !== "function") {
    return { status: "UNKNOWN", label, reasons: [`no schema for kind ${kind} in ${path}`] };
  }
  const reasons = [];
  try {
    new Model(doc).validate();
  } catch (e) {
    reasons.push(...String(e.message).split(", data").map((m, i) => (i === 0 ? m : "data" + m)));
  }
  reasons.push(...newerFieldErrors(kind, doc));
  return { status: reasons.length ? "INVALID" : "ok", label, reasons };
}

const text = readFileSync(process.argv[2] ?? 0, "utf8");
const documents = parseAllDocuments(text);
const parseErrors = documents.flatMap((d) => d.errors ?? []);
if (parseErrors.length) {
  console.log(`NOT YAML: ${parseErrors.map((e) => e.message).join("; ")}`);
  process.exit(2);
}

let failed = 0;
let count = 0;
for (const document of documents) {
  const doc = document.toJS();
  if (doc === null || doc === undefined) continue; // an empty document (a template that rendered nothing)
  count++;
  const result = await validate(doc);
  if (result.status !== "ok") failed++;
  console.log(`${result.status} ${result.label}${result.reasons.map((r) => `\n    ${r}`).join("")}`);
}
console.log(`${count} documents, ${failed} not valid for Kubernetes 1.30`);
process.exit(failed ? 1 : 0);
