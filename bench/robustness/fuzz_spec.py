"""Mutated specs against `sbi infer`: 18 fields of data/specs/two_moons.json each set to 15 values of the wrong
type, empty or extreme, and left out, and bad inference options for every registered method (a budget of 300
simulations). A run "crashes" when it dies by a signal, aborts, or fails without a message; a clear
error (exit 1 naming the field) or a finished run is fine. Prints each crash; exit 1 if any.

  SBI=<path to sbi> /usr/bin/python3 bench/robustness/fuzz_spec.py [v]     (from the repository root)
"""
import copy, json, os, shutil, subprocess, sys, tempfile
SBI = os.environ.get('SBI', 'build/sbi')
base = json.load(open('data/specs/two_moons.json'))
base['inference'] = {'method': 'npe', 'simulations': 300}
base['output'] = {'samples': 100}
muts = []
def setp(d, path, v):
    d = copy.deepcopy(d); cur = d
    for p in path[:-1]: cur = cur[p]
    if v is KeyError: del cur[path[-1]]
    else: cur[path[-1]] = v
    return d
vals = [None, -1, 0, 1e308, -1e308, "x", [], {}, [1], True, 2**63, -2**63, 1.5, "", [[]]]
paths = [['prior', 0, 'low'], ['prior', 0, 'high'], ['prior', 0, 'dist'], ['prior'], ['observation'], ['observation', 0], ['seed'],
         ['inference', 'simulations'], ['inference', 'method'], ['output', 'samples'], ['simulator', 'name'], ['simulator', 'options'],
         ['simulation'], ['simulation', 'failure_policy'], ['inference'], ['prior', 0], ['true_parameters'], ['prior', 0, 'name']]
for p in paths:
    for v in vals + [KeyError]:
        muts.append((p, v))
for method in ['npe', 'nle', 'nre', 'snpe', 'snle', 'snre', 'lfvi', 'slfvi', 'mmd', 'rejection', 'smc']:
    for key, v in [('simulations', 2), ('simulations', 1), ('rounds', 0), ('rounds', -1), ('density_estimator', {'type': 'nope'}), ('density_estimator', {'type': 'nsf', 'bins': 0}),
                   ('density_estimator', {'type': 'maf', 'transforms': 0}), ('density_estimator', {'type': 'maf', 'hidden': []}), ('batch_size', 0), ('batch_size', 100000),
                   ('learning_rate', -1), ('learning_rate', 1e30), ('epochs', 0), ('validation_fraction', 1.0), ('validation_fraction', 0.0)]:
        muts.append((['inference', key], v, method))
crash = 0
work = tempfile.mkdtemp()
for i, m in enumerate(muts):
    spec = copy.deepcopy(base)
    if len(m) == 3: spec['inference']['method'] = m[2]
    try: spec = setp(spec, m[0], m[1])
    except (KeyError, IndexError, TypeError): continue
    f = os.path.join(work, 'spec.json')
    json.dump(spec, open(f, 'w'))
    out = os.path.join(work, 'out%d' % i)
    try:
        r = subprocess.run([SBI, 'infer', f, '-o', out, '--quiet', '--threads', '1'], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        print('TIMEOUT', m); continue
    err = r.stderr.strip().splitlines()
    bad = r.returncode < 0 or r.returncode >= 128 or 'terminate called' in r.stderr or 'Assertion' in r.stderr or 'what()' in r.stderr
    if bad or (r.returncode != 0 and not err):
        crash += 1; print('CRASH', r.returncode, m, r.stderr[-300:])
    elif len(sys.argv) > 1: print(r.returncode, m, err[-1][:150] if err else '')
    shutil.rmtree(out, ignore_errors=True)
shutil.rmtree(work)
print('done', len(muts), 'specs, crashes', crash)
sys.exit(1 if crash else 0)
