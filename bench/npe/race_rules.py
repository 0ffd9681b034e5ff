"""Replays rules for racing NPE's candidates on full training curves (bench/npe/RESULTS.md §8).

Every candidate's per-epoch validation loss and seconds come from one grid run without a race
(npe_run records them under "trials"); since a race only stops candidates and never changes how one
trains, each rule's choice and cost follow from the curves. A rule (E, W, K, m): from epoch E on, a
candidate trailing the leader's best by more than m nats and by more than K times what it gained on
the leader over the last W epochs stops. Prints, per rule, in how many cells the kept estimator is
the one the full training keeps, and the mean fraction of the candidates' summed seconds spent.

  /usr/bin/python3 bench/npe/race_rules.py LABEL [v]
"""
import json, os, sys
rows = [json.loads(l) for l in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'grid.jsonl'))]
cells = {}
for r in rows:
    if r['label'] != sys.argv[1] or 'trials' not in r['run']: continue
    cells[(r['task'], r['run']['rows'])] = r['run']['trials']
def name(t):
    e = t['estimator']; return e['type'] + ('-' + e.get('activation', '') if e['type'] == 'maf' else '')
def bests(t):
    b = []; m = float('inf')
    for x in t['validation']: m = min(m, x); b.append(m)
    return b
def race(trials, E, W, K, m):
    B = [bests(t) for t in trials]
    alive = set(range(len(trials))); stop = {}
    def at(j, e): return B[j][min(e, len(B[j]), stop.get(j, 10**9)) - 1]
    maxep = max(len(b) for b in B)
    for e in range(E, maxep + 1):
        lead = min(range(len(trials)), key=lambda j: at(j, e))
        for i in list(alive):
            if e >= len(B[i]): continue
            gap = at(i, e) - at(lead, e)
            closing = (at(i, e - W) - at(i, e)) - (at(lead, e - W) - at(lead, e)) if e > W else float('inf')
            if gap > m and gap > K * closing:
                alive.discard(i); stop[i] = e
    kept = min(alive, key=lambda i: trials[i]['best_validation'])
    cost = sum(t['seconds'][stop[i] - 1] if i in stop else t['seconds'][-1] for i, t in enumerate(trials))
    return kept, cost, {name(trials[i]): s for i, s in stop.items()}
configs = [(10, 10, K, m) for K in (2, 3, 5, 10) for m in (0.05, 0.1)] + [(20, 10, K, m) for K in (3, 5) for m in (0.05, 0.1)]
summary = {c: [0, 0, 0] for c in configs}
for key, trials in sorted(cells.items()):
    full = min(range(len(trials)), key=lambda i: trials[i]['best_validation'])
    tot = sum(t['seconds'][-1] for t in trials)
    if len(sys.argv) > 2: print(key, 'kept', name(trials[full]), 'sum %.1f' % tot)
    for c in configs:
        k, cost, stops = race(trials, *c)
        summary[c][0] += k == full; summary[c][1] += 1; summary[c][2] += cost / tot
        if len(sys.argv) > 2: print('   E=%d W=%d K=%d m=%.2f: %s %s cost %.0f%% stops %s' % (*c, name(trials[k]), 'SAME' if k == full else 'DIFF (%.3f vs %.3f)' % (trials[k]['best_validation'], trials[full]['best_validation']), 100 * cost / tot, stops))
for c, (same, n, frac) in summary.items(): print(c, 'same %d/%d' % (same, n), 'mean cost %.0f%%' % (100 * frac / n))
