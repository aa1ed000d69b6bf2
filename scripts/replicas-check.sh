#!/usr/bin/env bash
# Two slm-server replicas behind HAProxy, each in its own network namespace with its own
# address (ip netns + veth on a bridge; nothing leaves the machine), under slm-loadgen:
#   steady  - N users; both replicas' /metrics scraped and summed against what the clients got
#   kill    - N users; one replica SIGKILLed: which requests fail, how, and how long until
#             HAProxy's health check marks it down
#   rolling - N users; SIGTERM one replica, wait for it to drain and exit, restart it, wait
#             until HAProxy has it up again, then the other: no request may fail
# Writes bench/replicas.json (or $OUT); exits 1 when a target of issue 38 is missed.
# Needs root (namespaces) and HAProxy (installed from Debian's packages when missing).
#
#   scripts/replicas-check.sh                  # or: just replicas-check
#   USERS=20 RUN_SECS=25 MAX_TOKENS=128 MODEL=models/tinystories-15m PROFILE=debug OUT=bench/replicas.json
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-20}
RUN_SECS=${RUN_SECS:-25}
MAX_TOKENS=${MAX_TOKENS:-128}
MODEL=${MODEL:-models/tinystories-15m}
PROFILE=${PROFILE:-debug}
OUT=${OUT:-bench/replicas.json}
GRACE_SECS=${GRACE_SECS:-30}

[ "$(id -u)" = 0 ] || { echo "replicas-check: needs root (network namespaces)" >&2; exit 1; }
if ! command -v haproxy >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq haproxy >/dev/null
fi
# (Where there is an init system, Debian's package also starts a system HAProxy, whose default
# configuration serves nothing; ours runs on its own in the load balancer's namespace.)

if [ "$PROFILE" = release ]; then
  cargo build --release -p slm-server -p slm-loadgen
else
  cargo build -p slm-server -p slm-loadgen
fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE

TMP=$(mktemp -d /tmp/slm-replicas.XXXXXX)
NETS=(slmrc-lb slmrc-r1 slmrc-r2)
BRIDGE=slmrc-br0

cleanup() {
  for ns in "${NETS[@]}"; do
    # Whatever still runs in our namespaces was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  if [ "$keep_tmp" = 1 ]; then echo "replicas-check: logs kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
keep_tmp=1
trap cleanup EXIT
# A run interrupted earlier may have left its namespaces behind.
for ns in "${NETS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
ip link del "$BRIDGE" 2>/dev/null || true

# 10.77.0.1: this namespace (the clients); .10 the load balancer; .11 and .12 the replicas.
ip link add "$BRIDGE" type bridge
ip addr add 10.77.0.1/24 dev "$BRIDGE"
ip link set "$BRIDGE" up
i=10
for ns in "${NETS[@]}"; do
  ip netns add "$ns"
  ip link add "$ns" type veth peer name eth0 netns "$ns"
  ip link set "$ns" master "$BRIDGE" up
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  i=$((i + 1))
done

export TMP BIN MODEL USERS RUN_SECS MAX_TOKENS OUT GRACE_SECS
python3 - <<'PY'
import atexit, csv, io, json, os, re, subprocess, sys, time, urllib.request
from datetime import datetime

TMP, BIN, MODEL, OUT = (os.environ[k] for k in ("TMP", "BIN", "MODEL", "OUT"))
PROFILE = "release" if BIN.endswith("release") else "dev"
USERS, RUN_SECS, MAX_TOKENS = (int(os.environ[k]) for k in ("USERS", "RUN_SECS", "MAX_TOKENS"))
GRACE_SECS = os.environ["GRACE_SECS"]
LB = "10.77.0.10"
REPLICAS = {"slm1": ("slmrc-r1", "10.77.0.11"), "slm2": ("slmrc-r2", "10.77.0.12")}


def log(*a):
    print("replicas-check:", *a, file=sys.stderr, flush=True)


def http_get(url, timeout=2.0):
    """(status, body) of a GET, (0, error) when there was no answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_for(what, cond, limit=120.0, step=0.02):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return time.time()
        time.sleep(step)
    raise SystemExit(f"replicas-check: timed out waiting for {what}")


procs = {}
children = []


def spawn(args, **kw):
    """Starts a child process that is killed (by its pid) if this script stops early."""
    p = subprocess.Popen(args, **kw)
    children.append(p)
    return p


atexit.register(lambda: [p.kill() for p in children if p.poll() is None])


def start_replica(name):
    ns, addr = REPLICAS[name]
    out = open(f"{TMP}/{name}.log", "a")
    procs[name] = spawn(
        ["ip", "netns", "exec", ns, f"{BIN}/slm-server", "--model", MODEL, "--host", "0.0.0.0",
         "--port", "8080", "--web-dir", "/nonexistent", "--shutdown-grace-secs", GRACE_SECS],
        stdout=out, stderr=out)

    def ready():
        if procs[name].poll() is not None:
            raise SystemExit(f"replicas-check: {name} exited at start ({TMP}/{name}.log)")
        return http_get(f"http://{addr}:8080/ready")[0] == 200

    wait_for(f"{name} ready", ready)


def lb_stats():
    """HAProxy's per-server rows of backend slm, by server name."""
    status, body = http_get(f"http://{LB}:8404/stats;csv", timeout=1.0)
    if status != 200:
        return {}
    rows = csv.DictReader(io.StringIO(body.lstrip("# ")))
    return {r["svname"]: r for r in rows if r["pxname"] == "slm"}


def lb_status(server):
    return lb_stats().get(server, {}).get("status", "")


def scrape(name):
    status, text = http_get(f"http://{REPLICAS[name][1]}:8080/metrics")
    values = {}
    if status == 200:
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, _, v = line.rpartition(" ")
                values[series] = float(v)
    return values


def peak_rss(name):
    with open(f"/proc/{procs[name].pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024


def loadgen(tag, secs):
    """Starts slm-loadgen through the load balancer; returns the process."""
    out = open(f"{TMP}/{tag}.json", "w")
    return spawn(
        [f"{BIN}/slm-loadgen", "--url", f"http://{LB}:8080", "--users", str(USERS),
         "--duration", str(secs), "--max-tokens", str(MAX_TOKENS), "--timeout", "60",
         "--requests-out", f"{TMP}/{tag}.requests.jsonl"],
        stdout=out)


def finish(tag, proc):
    if proc.wait() != 0:
        raise SystemExit(f"replicas-check: slm-loadgen ({tag}) failed")
    summary = json.load(open(f"{TMP}/{tag}.json"))
    reqs = [json.loads(l) for l in open(f"{TMP}/{tag}.requests.jsonl")]
    return summary, reqs


def failed(r):
    return r["status"] != 200 or r["error"] is not None


HTTPLOG = re.compile(
    r'\[(?P<date>[^\]]+)\] \S+ slm/(?P<srv>\S+) -?\d+/-?\d+/-?\d+/-?\d+/\+?(?P<ta>-?\d+) '
    r'(?P<status>-?\d+) \+?\d+ \S+ \S+ (?P<term>\S{4}) ')


def lb_log():
    """HAProxy's request log: (server, start, end, termination state) per request."""
    rows = []
    for line in open(f"{TMP}/haproxy.log", errors="replace"):
        m = HTTPLOG.search(line)
        if m:
            start = datetime.strptime(m["date"], "%d/%b/%Y:%H:%M:%S.%f").timestamp()
            rows.append((m["srv"], start, start + int(m["ta"]) / 1000, m["term"]))
    return rows


def lb_retries():
    """HAProxy's counts of re-sent requests (retries, and those sent to another replica)."""
    b = lb_stats().get("BACKEND", {})
    return {"lb_retries": int(b.get("wretr") or 0), "lb_redispatches": int(b.get("wredis") or 0)}


def since(before):
    return {k: v - before[k] for k, v in lb_retries().items()}


def counters(values):
    return {
        "requests_200": values.get('slm_http_requests_total{route="/v1/completions",status="200"}', 0.0),
        "generation_tokens": values.get("slm_generation_tokens_total", 0.0),
    }


# ------------------------------------------------------------------ start
load_before = os.getloadavg()
others = subprocess.run(["pgrep", "-a", "slm-train"], capture_output=True, text=True).stdout.strip()
for name in REPLICAS:
    start_replica(name)
lb_env = dict(os.environ, SLM_REPLICA_1=f"{REPLICAS['slm1'][1]}:8080",
              SLM_REPLICA_2=f"{REPLICAS['slm2'][1]}:8080")
haproxy = spawn(
    ["ip", "netns", "exec", "slmrc-lb", "haproxy", "-db", "-f", "deploy/haproxy/haproxy.cfg",
     "-f", "deploy/haproxy/backend-static.cfg"],
    env=lb_env, stdout=open(f"{TMP}/haproxy.log", "w"), stderr=subprocess.STDOUT)
wait_for("HAProxy to mark both replicas up",
         lambda: all(lb_status(s) == "UP" for s in REPLICAS))
log("both replicas up behind HAProxy")
result = {
    "what": "two slm-server replicas behind HAProxy in three network namespaces, "
            "slm-loadgen through the load balancer (scripts/replicas-check.sh)",
    "command": "scripts/replicas-check.sh",
    "model": MODEL,
    "build_profile": PROFILE,
    "haproxy": subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
    "users": USERS, "seconds_per_run": RUN_SECS, "max_tokens": MAX_TOKENS,
    "shutdown_grace_secs": float(GRACE_SECS),
    "load_average_before": load_before,
    "shared_cores_with": others or None,
}

# ------------------------------------------------------------------ (c) steady, metrics summed
before = {n: scrape(n) for n in REPLICAS}
summary, reqs = finish("steady", loadgen("steady", RUN_SECS))
after = {n: scrape(n) for n in REPLICAS}
per_replica = {}
for n in REPLICAS:
    b, a = counters(before[n]), counters(after[n])
    per_replica[n] = {k: a[k] - b[k] for k in a}
    per_replica[n]["peak_rss_bytes"] = peak_rss(n)
summed = {k: sum(r[k] for r in per_replica.values()) for k in ("requests_200", "generation_tokens")}
result["steady"] = {
    "client": {k: summary[k] for k in ("requests_ok", "requests_failed", "output_tokens",
                                      "output_tokens_per_s", "ttft_ms", "errors")},
    "replicas": per_replica,
    "replicas_summed": summed,
    "summed_metrics_match_clients": summed["requests_200"] == summary["requests_ok"]
    and summed["generation_tokens"] == summary["output_tokens"],
}
log("steady:", json.dumps(result["steady"]["replicas_summed"]), "clients:", summary["requests_ok"])

# ------------------------------------------------------------------ (a) SIGKILL one replica
retries = lb_retries()
proc = loadgen("kill", RUN_SECS)
time.sleep(RUN_SECS / 3)
gauges = scrape("slm2")
t_kill = time.time()
procs["slm2"].kill()
t_down = wait_for("HAProxy to mark slm2 down", lambda: lb_status("slm2").startswith("DOWN"))
procs["slm2"].wait()
summary, reqs = finish("kill", proc)
bad = [r for r in reqs if failed(r)]
on_killed = [r for r in lb_log() if r[0] == "slm2" and r[1] <= t_kill <= r[2] + 0.05]
result["kill"] = {
    "requests": len(reqs),
    "failed": len(bad),
    "in_flight_on_killed": len(on_killed),
    "in_flight_on_killed_engine_gauges": gauges.get("slm_num_requests_running", 0)
    + gauges.get("slm_num_requests_waiting", 0),
    "failed_in_flight": sum(r["started_at"] < t_kill for r in bad),
    "failed_after_kill_before_markdown": sum(t_kill <= r["started_at"] < t_down for r in bad),
    "failed_after_markdown": sum(r["started_at"] >= t_down for r in bad),
    "markdown_s": round(t_down - t_kill, 3),
    "failures_seen_by_clients_within_s": round(max((r["ended_at"] - t_kill for r in bad), default=0), 3),
    "errors": sorted({r["error"] or f"HTTP {r['status']}" for r in bad}),
    "lb_termination_states_on_killed": sorted({r[3] for r in on_killed}),
    **since(retries),
    "client": {k: summary[k] for k in ("requests_ok", "requests_failed", "errors")},
}
log("kill:", json.dumps({k: v for k, v in result["kill"].items() if k != "client"}))
start_replica("slm2")
wait_for("HAProxy to mark slm2 up again", lambda: lb_status("slm2") == "UP")

# ------------------------------------------------------------------ (b) rolling restart
retries = lb_retries()
proc = loadgen("rolling", RUN_SECS)
time.sleep(3)
steps = []
for name in REPLICAS:
    t0 = time.time()
    procs[name].terminate()
    t_unready = wait_for(f"HAProxy to mark {name} down", lambda: lb_status(name).startswith("DOWN"))
    code = procs[name].wait(timeout=float(GRACE_SECS) + 30)
    t_exit = time.time()
    start_replica(name)
    t_up = wait_for(f"HAProxy to mark {name} up", lambda: lb_status(name) == "UP")
    steps.append({"replica": name, "exit_code": code, "markdown_s": round(t_unready - t0, 3),
                  "drain_and_exit_s": round(t_exit - t0, 3), "back_up_s": round(t_up - t0, 3)})
    log("rolling:", json.dumps(steps[-1]))
t_done = time.time()
summary, reqs = finish("rolling", proc)
retried = since(retries)
bad = [r for r in reqs if failed(r)]
result["rolling_restart"] = {
    "requests": len(reqs),
    "failed": len(bad),
    "truncated_streams": sum(r["status"] == 200 and r["error"] is not None for r in bad),
    "errors": sorted({r["error"] or f"HTTP {r['status']}" for r in bad}),
    "steps": steps,
    "restart_finished_under_load": t_done < max(r["started_at"] for r in reqs),
    **retried,
    "client": {k: summary[k] for k in ("requests_ok", "requests_failed", "output_tokens_per_s", "errors")},
}
log("rolling:", result["rolling_restart"]["failed"], "failed of", len(reqs))

haproxy.terminate()
haproxy.wait()
for p in procs.values():
    p.terminate()
    p.wait()
result["cpu"] = summary.get("cpu")
result["note"] = (
    f"{PROFILE}-profile build (the dev profile optimises the numeric crates); "
    f"CPU {result['cpu']['model']}, {result['cpu']['logical_cores']} logical cores for both "
    "replicas, HAProxy and the clients"
    + ("; the cores were shared with the processes in shared_cores_with" if others else ""))
k, r = result["kill"], result["rolling_restart"]
result["targets"] = {
    "rolling_restart_no_failures": r["failed"] == 0 and r["truncated_streams"] == 0
    and r["restart_finished_under_load"],
    "kill_failures_at_most_in_flight_on_killed": k["failed"] <= k["in_flight_on_killed"]
    and k["failed"] == k["failed_in_flight"],
    "kill_no_failure_after_markdown": k["failed_after_markdown"] == 0,
    "kill_markdown_within_3s": k["markdown_s"] <= 3.0,
    "summed_metrics_match_clients": result["steady"]["summed_metrics_match_clients"],
}
with open(OUT, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
log("wrote", OUT, json.dumps(result["targets"]))
sys.exit(0 if all(result["targets"].values()) else 1)
PY
keep_tmp=0
