# Offline check (issue 16, hypothesis 3): plain logistic regression with
# Adagrad on hashed one-hot features, trained on the same simulated stream in
# window mode (label at t+60 s) and in immediate mode (negative at t, positive
# duplicate at the click) with fake-negative weighting (immediate), the
# positive-unlabeled loss (pu; Ktena et al. 2019) or DEFER with a zero wait
# (defer; Gu et al. 2021: also a real-negative duplicate at the window's
# close). Each impression is scored once before any training on it. Prints
# AUC and calibration (mean prediction over the CTR of the window's labels).
# Usage: python3 bench/fnw_offline_check.py SIM.ndjson window|immediate|pu|defer LR [BATCH]
#   (SIM.ndjson from `ranker simulate`; needs numpy; ~1 min for 200k events)
import heapq, json, math, sys, zlib
import numpy as np
path, mode, lr = sys.argv[1], sys.argv[2], float(sys.argv[3])
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
D = 1 << 18
W = 60000
def feats(e):
    f = ["u=" + e["user_id"], "i=" + e["item_id"], "pos=%d" % e["position"],
         "dev=" + e["context"]["device"], "pd=%d%s" % (e["position"], e["context"]["device"]), "bias"]
    for k, v in e["user"].items(): f.append("u." + k + "=" + v)
    for k, v in e["item"].items(): f.append("i." + k + "=" + v)
    for k, v in e["item"].items():
        for k2, v2 in e["user"].items(): f.append("x" + k + v + k2 + v2)
    idx = np.array([zlib.crc32(s.encode()) % D for s in f])
    dense = np.array([v for k, v in sorted(e["dense"].items()) if k != "hour_of_day"])
    return idx, dense
w = np.zeros(D); G = np.full(D, 1e-3)
nd = 7; wd = np.zeros(nd); Gd = np.full(nd, 1e-3)
def predict(x):
    idx, d = x
    return 1 / (1 + math.exp(-(w[idx].sum() + wd @ d)))
def weight(p, y):
    if mode == "pu": return 1 / (1 - p) if y else 1.0
    if mode == "defer": return 2.0 if y else (1 - p) / (1 - p / 2)
    return (1 + p) if y else (1 - p) * (1 + p)
buf = []
def step():
    global buf
    if not buf: return
    gi = {}; gd = np.zeros(nd)
    for x, y, corrected in buf:
        p = predict(x)
        wt = weight(p, y) if corrected else 1.0
        g = wt * (p - y) / len(buf)
        for i in x[0]: gi[i] = gi.get(i, 0) + g
        gd += g * x[1]
    for i, g in gi.items():
        G[i] += g * g; w[i] -= lr * g / math.sqrt(G[i])
    Gd[:] += gd * gd; wd[:] -= lr * gd / np.sqrt(Gd)
    buf = []
def train(x, y, fnw):
    buf.append((x, y, fnw))
    if len(buf) >= batch: step()
pending = {}  # key -> [x, clicked, deadline, score]
queue = []
scores, labels = [], []
wm = 0
def close(until):
    while queue and queue[0][0] <= until:
        dl, key = heapq.heappop(queue)
        x, clicked, score = pending.pop(key)
        if mode == "window":
            step_score = predict(x); scores.append(step_score); labels.append(clicked)
            train(x, clicked, False)
        else:
            scores.append(score); labels.append(clicked)
            if mode == "defer" and not clicked: train(x, 0, True)  # the real negative
for line in open(path):
    e = json.loads(line)
    wm = max(wm, e.get("ts_ms", wm)); close(wm)
    key = (e["request_id"], e["item_id"])
    if e["type"] == "impression":
        x = feats(e)
        s = None
        if mode != "window":
            s = predict(x); train(x, 0, True)   # score before any training on it
        pending[key] = [x, 0, s]; heapq.heappush(queue, (e["ts_ms"] + W, key))
    elif e["type"] == "click" and key in pending and not pending[key][1]:
        pending[key][1] = 1
        if mode != "window": train(pending[key][0], 1, True)
close(1 << 62)
s = np.array(scores); y = np.array(labels)
order = np.argsort(s); r = np.empty(len(s)); r[order] = np.arange(1, len(s) + 1)
auc = (r[y == 1].sum() - (y == 1).sum() * ((y == 1).sum() + 1) / 2) / ((y == 1).sum() * (y == 0).sum())
print(mode, "lr", lr, "auc %.4f cal %.3f n %d" % (auc, s.mean() / y.mean(), len(s)))
