// Offline checks of deploy/kubernetes/*.yaml.
//
//   node validate.mjs [FILE...]      check FILEs (default: every manifest)
//   node validate.mjs --self-test    break the real manifests on purpose,
//                                    one way at a time: each must be caught
//   node validate.mjs --print args|caps|image|init
//                                    the DaemonSet's agent args, capabilities
//                                    or image, one a line, or the bpffs init
//                                    container's script (the container test
//                                    runs the image with these)
//
// Every object is validated against the Kubernetes OpenAPI schema
// (kubernetes-models). The schema does not see rules the API server or
// the kubelet enforce elsewhere, nor kanary's own contract, so those are
// checked here too (rules() below). The ConfigMap kanary-config must hold
// examples/lab's files byte for byte (deploy/gen-configmap.sh writes it).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Namespace, ServiceAccount, ConfigMap } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { load, loadDir, report, selfTest } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const manifestDir = join(root, "deploy", "kubernetes");
const labDir = join(root, "examples", "lab");
const NAMESPACE = "kanary-system";

const models = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/DaemonSet": DaemonSet,
};

function agentContainer(ds) {
  return (ds.spec?.template?.spec?.containers ?? []).find(
    (c) => c.name === "kanary",
  );
}

// argv value of an option given as "--opt value" or "--opt=value"
function optValues(args, opt) {
  const out = [];
  args.forEach((a, i) => {
    if (a === opt && i + 1 < args.length) out.push(args[i + 1]);
    else if (a.startsWith(opt + "=")) out.push(a.slice(opt.length + 1));
  });
  return out;
}

// Rules outside the OpenAPI schema; each returns a list of messages.
function rules(doc, all) {
  const o = doc.obj;
  const errs = [];
  const kind = o.kind;
  if (kind !== "Namespace" && o.metadata?.namespace !== NAMESPACE)
    errs.push(`metadata.namespace must be ${NAMESPACE}`);
  if (kind === "ConfigMap" && o.metadata?.name === "kanary-config") {
    const keys = Object.keys(o.data ?? {});
    if (!keys.length) errs.push("kanary-config has no data");
    for (const k of keys) {
      let want;
      try {
        want = readFileSync(join(labDir, k), "utf8");
      } catch {
        errs.push(`data.${k}: no examples/lab/${k}`);
        continue;
      }
      if (o.data[k] !== want)
        errs.push(
          `data.${k} differs from examples/lab/${k} (run deploy/gen-configmap.sh)`,
        );
    }
  }
  if (kind !== "DaemonSet") return errs;

  const spec = o.spec?.template?.spec ?? {};
  const sel = o.spec?.selector?.matchLabels ?? {};
  const labels = o.spec?.template?.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(sel))
    if (labels[k] !== v) errs.push(`selector ${k}=${v} does not match the pod labels`);
  if (spec.hostNetwork !== true) errs.push("hostNetwork must be true");
  if (spec.dnsPolicy !== "ClusterFirstWithHostNet")
    errs.push("a hostNetwork pod needs dnsPolicy ClusterFirstWithHostNet");
  if (spec.nodeSelector?.["kanary.io/gateway"] !== "true")
    errs.push('nodeSelector must hold kanary.io/gateway: "true"');

  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const all_ctrs = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of all_ctrs) {
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name))
        errs.push(`container ${c.name}: volumeMount ${m.name} has no volume`);
      // The API server's rule (not in the schema).
      if (m.mountPropagation === "Bidirectional" && c.securityContext?.privileged !== true)
        errs.push(`container ${c.name}: Bidirectional propagation needs a privileged container`);
    }
  }
  if (volumes.get("bpffs")?.hostPath?.path !== "/sys/fs/bpf")
    errs.push("volume bpffs must be the hostPath /sys/fs/bpf");
  if (volumes.get("state")?.hostPath?.path !== "/run/kanary")
    errs.push("volume state must be the hostPath /run/kanary");
  const cmName = volumes.get("config")?.configMap?.name;
  if (!all.some((d) => d.obj.kind === "ConfigMap" && d.obj.metadata?.name === cmName))
    errs.push(`volume config: no ConfigMap ${cmName} among the manifests`);
  const sa = spec.serviceAccountName;
  if (sa && !all.some((d) => d.obj.kind === "ServiceAccount" && d.obj.metadata?.name === sa))
    errs.push(`serviceAccountName ${sa}: no such ServiceAccount among the manifests`);

  const c = agentContainer(o);
  if (!c) return [...errs, "no container named kanary"];
  const args = c.args ?? [];
  if (args[0] !== "run") errs.push("the agent's args must start with run");
  if (!optValues(args, "--iface").length) errs.push("the agent needs an --iface");
  const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.name, m]));
  const cfgDir = optValues(args, "--config-dir")[0];
  if (!cfgDir || mounts.get("config")?.mountPath !== cfgDir)
    errs.push("--config-dir must be where the config volume is mounted");
  const pinDir = optValues(args, "--pin-dir")[0] ?? "/sys/fs/bpf/kanary";
  const bpfMount = mounts.get("bpffs")?.mountPath;
  if (!bpfMount || !pinDir.startsWith(bpfMount + "/"))
    errs.push("--pin-dir must be under the bpffs mount");
  if (mounts.get("state")?.mountPath !== "/run/kanary")
    errs.push("the state volume must be mounted at /run/kanary");
  const listen = optValues(args, "--listen")[0] ?? "127.0.0.1:9901";
  const port = Number(listen.split(":").pop());
  if (listen.startsWith("127.") || listen.startsWith("localhost"))
    errs.push("--listen on loopback: the kubelet probes the node IP");
  const named = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  for (const probe of ["livenessProbe", "readinessProbe"]) {
    const g = c[probe]?.httpGet;
    if (!g) {
      errs.push(`${probe} must be an httpGet`);
      continue;
    }
    const p = typeof g.port === "string" ? named.get(g.port) : g.port;
    if (p !== port) errs.push(`${probe} port ${g.port} is not the --listen port ${port}`);
  }
  if (o.spec?.template?.metadata?.annotations?.["prometheus.io/port"] !== String(port))
    errs.push("annotation prometheus.io/port must be the --listen port");
  for (const [var_] of listen.matchAll(/\$\(([A-Z_]+)\)/g)) {
    const name = var_.slice(2, -1);
    if (!(c.env ?? []).some((e) => e.name === name))
      errs.push(`--listen uses $(${name}), which the container does not define`);
  }
  const sc = c.securityContext ?? {};
  if (sc.privileged) errs.push("the agent container must not be privileged");
  const add = [...(sc.capabilities?.add ?? [])].sort().join(",");
  if (add !== "BPF,NET_ADMIN,PERFMON")
    errs.push(`the agent's capabilities are ${add || "none"}, not BPF,NET_ADMIN,PERFMON`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL"))
    errs.push("the agent must drop ALL other capabilities");
  if (o.spec?.updateStrategy?.type !== "RollingUpdate")
    errs.push("updateStrategy must be RollingUpdate");
  return errs;
}

function check(docs) {
  const failures = [];
  for (const d of docs) {
    const where = `${d.file}#${d.index} ${d.obj?.kind}/${d.obj?.metadata?.name}`;
    const Model = models[`${d.obj?.apiVersion}/${d.obj?.kind}`];
    if (!Model) {
      failures.push(`${where}: no schema for ${d.obj?.apiVersion} ${d.obj?.kind}`);
      continue;
    }
    try {
      new Model(d.obj).validate();
    } catch (e) {
      failures.push(`${where}: schema: ${e.message}`);
    }
    for (const m of rules(d, docs)) failures.push(`${where}: ${m}`);
  }
  return failures;
}

function manifests() {
  return loadDir(manifestDir);
}

// Each mutation breaks the real manifests in one way; each must be caught.
const mutations = {
  "wrong type (containerPort as a string)": (ds) => {
    agentContainer(ds).ports[0].containerPort = "9901";
  },
  "unknown enum value (mountPropagation)": (ds) => {
    agentContainer(ds).volumeMounts[0].mountPropagation = "Bidirectionl";
  },
  "missing required field (volumeMount mountPath)": (ds) => {
    delete agentContainer(ds).volumeMounts[0].mountPath;
  },
  "Bidirectional mount in the unprivileged agent": (ds) => {
    agentContainer(ds).volumeMounts[0].mountPropagation = "Bidirectional";
  },
  "probe on another port than --listen": (ds) => {
    agentContainer(ds).livenessProbe.httpGet.port = 9902;
  },
  "capability CAP_SYS_ADMIN added": (ds) => {
    agentContainer(ds).securityContext.capabilities.add.push("SYS_ADMIN");
  },
  "volumeMount without a volume": (ds) => {
    ds.spec.template.spec.volumes = ds.spec.template.spec.volumes.filter(
      (v) => v.name !== "state",
    );
  },
  "ConfigMap drifted from examples/lab": (_ds, docs) => {
    const cm = docs.find((d) => d.obj.kind === "ConfigMap").obj;
    cm.data["gateway.yaml"] = cm.data["gateway.yaml"].replace("number: 80", "number: 8080");
  },
};

// Each mutation is given the DaemonSet and all the documents.
const onDaemonSet = Object.fromEntries(
  Object.entries(mutations).map(([name, mutate]) => [
    name,
    (docs) => mutate(docs.find((d) => d.obj.kind === "DaemonSet").obj, docs),
  ]),
);

function print(what) {
  const ds = manifests().find((d) => d.obj.kind === "DaemonSet").obj;
  const c = agentContainer(ds);
  const init = (ds.spec.template.spec.initContainers ?? []).find(
    (i) => i.name === "mount-bpffs",
  );
  const lines = {
    args: c.args,
    caps: c.securityContext.capabilities.add,
    image: [c.image],
    // the init container's script (its command is sh -ec SCRIPT)
    init: init ? [init.command[2].trimEnd()] : undefined,
  }[what];
  if (!lines) {
    console.error(`validate: --print args|caps|image|init, not ${what}`);
    return 2;
  }
  console.log(lines.join("\n"));
  return 0;
}

function main(argv) {
  if (argv[0] === "--self-test")
    return selfTest({
      tool: "validate",
      what: "manifests",
      real: manifests,
      check,
      mutations: onDaemonSet,
    });
  if (argv[0] === "--print") return print(argv[1]);
  let docs;
  try {
    docs = argv.length ? argv.flatMap((f) => load(f)) : manifests();
  } catch (e) {
    console.error(`validate: ${e.message}`);
    return 1;
  }
  return report("validate", docs, check(docs));
}

process.exitCode = main(process.argv.slice(2));
