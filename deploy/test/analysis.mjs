// Offline checks of deploy/analysis/*.yaml, the canary analysis templates
// over kanary's metrics (docs/analysis.md).
//
//   node analysis.mjs [FILE...]    check FILEs (default: deploy/analysis/)
//   node analysis.mjs --self-test  break the real templates on purpose, one
//                                  way at a time: each must be caught
//
// Each object is validated against a JSON schema of its kind written from
// the published CustomResourceDefinitions: Flagger's MetricTemplate
// (flagger.app/v1beta1, fluxcd/flagger artifacts/flagger/crd.yaml) and
// Argo Rollouts' AnalysisTemplate (argoproj.io/v1alpha1, argoproj/
// argo-rollouts manifests/crds/analysis-template-crd.yaml). Only the
// fields these templates may use are described; unknown fields are
// refused, where the API server would silently prune them (a misspelt
// successCondition would then pass every analysis). rules() adds what
// makes a template read kanary's metrics at all.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { load, loadDir, report, selfTest } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const templateDir = join(here, "..", "analysis");

const str = { type: "string" };
const nonEmpty = { type: "string", minLength: 1 };
// x-kubernetes-int-or-string, as the CRDs declare these counts
const intOrString = { anyOf: [{ type: "integer" }, { type: "string" }] };
const objectMeta = {
  type: "object",
  required: ["name"],
  properties: {
    name: nonEmpty,
    namespace: str,
    labels: { type: "object", additionalProperties: str },
    annotations: { type: "object", additionalProperties: str },
  },
};

const metricTemplate = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  additionalProperties: false,
  properties: {
    apiVersion: { const: "flagger.app/v1beta1" },
    kind: { const: "MetricTemplate" },
    metadata: objectMeta,
    spec: {
      type: "object",
      required: ["provider", "query"],
      additionalProperties: false,
      properties: {
        provider: {
          type: "object",
          required: ["type"],
          additionalProperties: false,
          properties: {
            type: {
              enum: [
                "prometheus",
                "influxdb",
                "datadog",
                "externalmetrics",
                "stackdriver",
                "cloudwatch",
                "newrelic",
                "graphite",
                "dynatrace",
                "keptn",
                "splunk",
              ],
            },
            address: str,
            headers: {
              type: "object",
              additionalProperties: { type: "array", items: str },
            },
            secretRef: {
              type: "object",
              required: ["name"],
              additionalProperties: false,
              properties: { name: str },
            },
            region: str,
            insecureSkipVerify: { type: "boolean" },
          },
        },
        query: str,
      },
    },
  },
};

const keyValue = {
  type: "object",
  required: ["key", "value"],
  additionalProperties: false,
  properties: { key: str, value: str },
};
const analysisTemplate = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  additionalProperties: false,
  properties: {
    apiVersion: { const: "argoproj.io/v1alpha1" },
    kind: { const: "AnalysisTemplate" },
    metadata: objectMeta,
    spec: {
      type: "object",
      required: ["metrics"],
      additionalProperties: false,
      properties: {
        args: {
          type: "array",
          items: {
            type: "object",
            required: ["name"],
            additionalProperties: false,
            properties: {
              name: nonEmpty,
              value: str,
              valueFrom: {
                type: "object",
                additionalProperties: false,
                properties: {
                  secretKeyRef: {
                    type: "object",
                    required: ["key", "name"],
                    additionalProperties: false,
                    properties: { key: str, name: str },
                  },
                  fieldRef: {
                    type: "object",
                    required: ["fieldPath"],
                    additionalProperties: false,
                    properties: { fieldPath: str },
                  },
                },
              },
            },
          },
        },
        dryRun: {
          type: "array",
          items: {
            type: "object",
            required: ["metricName"],
            properties: { metricName: str },
          },
        },
        measurementRetention: {
          type: "array",
          items: {
            type: "object",
            required: ["limit", "metricName"],
            properties: { limit: { type: "integer" }, metricName: str },
          },
        },
        metrics: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["name", "provider"],
            additionalProperties: false,
            properties: {
              name: nonEmpty,
              interval: str,
              initialDelay: str,
              count: intOrString,
              failureLimit: intOrString,
              inconclusiveLimit: intOrString,
              consecutiveErrorLimit: intOrString,
              successCondition: str,
              failureCondition: str,
              provider: {
                type: "object",
                minProperties: 1,
                additionalProperties: false,
                properties: {
                  prometheus: {
                    type: "object",
                    additionalProperties: false,
                    properties: {
                      address: str,
                      query: str,
                      // seconds
                      timeout: { type: "integer" },
                      insecure: { type: "boolean" },
                      headers: { type: "array", items: keyValue },
                    },
                  },
                  // the other providers, not described further here
                  cloudWatch: { type: "object" },
                  datadog: { type: "object" },
                  graphite: { type: "object" },
                  influxdb: { type: "object" },
                  job: { type: "object" },
                  kayenta: { type: "object" },
                  newRelic: { type: "object" },
                  wavefront: { type: "object" },
                  web: { type: "object" },
                  skywalking: { type: "object" },
                  plugin: { type: "object" },
                },
              },
            },
          },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = {
  "flagger.app/v1beta1/MetricTemplate": ajv.compile(metricTemplate),
  "argoproj.io/v1alpha1/AnalysisTemplate": ajv.compile(analysisTemplate),
};

// The series kanary serves (user/http, docs/analysis.md).
const KANARY_SERIES = [
  "istio_requests_total",
  "istio_request_duration_milliseconds_bucket",
  "istio_request_duration_milliseconds_sum",
  "istio_request_duration_milliseconds_count",
];

// PromQL kanary answers: its series, its reporter, balanced brackets.
function queryRules(q) {
  const errs = [];
  if (!q || !q.trim()) return ["empty query"];
  if (!KANARY_SERIES.some((s) => q.includes(s)))
    errs.push(`the query reads none of ${KANARY_SERIES.join(", ")}`);
  const selectors = q.match(/istio_[a-z_]+\s*\{[^}]*\}/g) ?? [];
  for (const s of selectors)
    if (!/reporter\s*=\s*"kanary"/.test(s))
      errs.push(`selector without reporter="kanary": ${s.split("{")[0]}`);
  const pairs = { ")": "(", "]": "[", "}": "{" };
  const stack = [];
  // Template actions ({{ x }}) are not PromQL brackets.
  for (const ch of q.replace(/\{\{[^}]*\}\}/g, "x")) {
    if ("([{".includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) {
      errs.push(`unbalanced ${ch} in the query`);
      break;
    }
  }
  if (stack.length) errs.push(`unclosed ${stack.pop()} in the query`);
  return errs;
}

function rules(o) {
  const errs = [];
  if (o.kind === "MetricTemplate") {
    const s = o.spec ?? {};
    if (s.provider?.type !== "prometheus")
      errs.push("provider.type must be prometheus (kanary's metrics are there)");
    if (!s.provider?.address) errs.push("provider.address: no Prometheus URL");
    errs.push(...queryRules(s.query));
    // Flagger's variables; anything else renders as an error at analysis.
    for (const [, v] of (s.query ?? "").matchAll(/\{\{\s*([^}]*?)\s*\}\}/g))
      if (!/^(name|namespace|target|service|ingress|interval|variables\.[A-Za-z_][A-Za-z0-9_]*)$/.test(v))
        errs.push(`{{ ${v} }} is not a Flagger template variable`);
    if (!/\{\{\s*interval\s*\}\}/.test(s.query ?? ""))
      errs.push("the query ignores {{ interval }}, the Canary's metric interval");
  }
  if (o.kind === "AnalysisTemplate") {
    const declared = new Set((o.spec?.args ?? []).map((a) => a.name));
    const used = new Set();
    for (const m of o.spec?.metrics ?? []) {
      const p = m.provider?.prometheus;
      if (!p) {
        errs.push(`metric ${m.name}: provider must be prometheus`);
        continue;
      }
      if (!p.address) errs.push(`metric ${m.name}: provider.prometheus.address: no Prometheus URL`);
      for (const e of queryRules(p.query)) errs.push(`metric ${m.name}: ${e}`);
      if (!m.successCondition && !m.failureCondition)
        errs.push(`metric ${m.name}: no successCondition or failureCondition`);
      for (const [, a] of (p.query ?? "").matchAll(/\{\{\s*args\.([^}\s]+)\s*\}\}/g)) {
        used.add(a);
        if (!declared.has(a)) errs.push(`metric ${m.name}: {{args.${a}}} is not in spec.args`);
      }
    }
    for (const a of declared)
      if (!used.has(a)) errs.push(`spec.args ${a} is used by no query`);
  }
  return errs;
}

function check(docs) {
  const failures = [];
  for (const d of docs) {
    const o = d.obj ?? {};
    const where = `${d.file}#${d.index} ${o.kind}/${o.metadata?.name}`;
    const validate = validators[`${o.apiVersion}/${o.kind}`];
    if (!validate) {
      failures.push(
        `${where}: no schema for ${o.apiVersion} ${o.kind} (want flagger.app/v1beta1 MetricTemplate or argoproj.io/v1alpha1 AnalysisTemplate)`,
      );
      continue;
    }
    if (!validate(o))
      for (const e of validate.errors)
        failures.push(
          `${where}: schema: ${e.instancePath || "/"} ${e.message}` +
            (e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : "") +
            (e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""),
        );
    for (const m of rules(o)) failures.push(`${where}: ${m}`);
  }
  return failures;
}

function templates() {
  return loadDir(templateDir);
}

const byKind = (docs, kind) => docs.find((d) => d.obj.kind === kind).obj;
// Each mutation breaks the real templates in one way; each must be caught.
const mutations = {
  "MetricTemplate with a wrong apiVersion": (docs) => {
    byKind(docs, "MetricTemplate").apiVersion = "flagger.app/v1alpha1";
  },
  "MetricTemplate without a query": (docs) => {
    delete byKind(docs, "MetricTemplate").spec.query;
  },
  "MetricTemplate provider type not in the enum": (docs) => {
    byKind(docs, "MetricTemplate").spec.provider.type = "Prometheus";
  },
  "MetricTemplate with an unknown Flagger variable": (docs) => {
    const s = byKind(docs, "MetricTemplate").spec;
    s.query = s.query.replaceAll("{{ target }}", "{{ targetRef }}");
  },
  "MetricTemplate reading another reporter's series": (docs) => {
    const s = byKind(docs, "MetricTemplate").spec;
    s.query = s.query.replaceAll('reporter="kanary"', 'reporter="destination"');
  },
  "AnalysisTemplate with a wrong apiVersion": (docs) => {
    byKind(docs, "AnalysisTemplate").apiVersion = "argoproj.io/v1beta1";
  },
  "AnalysisTemplate metric without a provider": (docs) => {
    delete byKind(docs, "AnalysisTemplate").spec.metrics[0].provider;
  },
  "AnalysisTemplate count of the wrong type": (docs) => {
    byKind(docs, "AnalysisTemplate").spec.metrics[0].count = 2.5;
  },
  "AnalysisTemplate misspelt successCondition": (docs) => {
    const m = byKind(docs, "AnalysisTemplate").spec.metrics[0];
    m.succesCondition = m.successCondition;
    delete m.successCondition;
  },
  "AnalysisTemplate query using an undeclared arg": (docs) => {
    const p = byKind(docs, "AnalysisTemplate").spec.metrics[0].provider.prometheus;
    p.query = p.query.replaceAll("{{args.subset}}", "{{args.version}}");
  },
  "AnalysisTemplate query with an unclosed bracket": (docs) => {
    const p = byKind(docs, "AnalysisTemplate").spec.metrics[1].provider.prometheus;
    p.query = p.query.replace(") by (le)", " by (le)");
  },
};

// The real templates must hold one of each kind, or a mutation of the
// missing kind would throw instead of being caught.
function checkReal(docs) {
  const kinds = new Set(docs.map((d) => d.obj.kind));
  return check(docs).concat(
    ["MetricTemplate", "AnalysisTemplate"]
      .filter((k) => !kinds.has(k))
      .map((k) => `no ${k}`),
  );
}

function main(argv) {
  if (argv[0] === "--self-test")
    return selfTest({
      tool: "analysis",
      what: "templates",
      real: templates,
      check,
      baseCheck: checkReal,
      mutations,
    });
  let docs;
  try {
    docs = argv.length ? argv.flatMap((f) => load(f)) : templates();
  } catch (e) {
    console.error(`analysis: ${e.message}`);
    return 1;
  }
  if (!docs.length) {
    console.error("analysis: no objects to check");
    return 1;
  }
  return report("analysis", docs, check(docs));
}

process.exitCode = main(process.argv.slice(2));
