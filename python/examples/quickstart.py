"""The demo's section 4 from Python: a 2-3-1 tanh student of a 2-3-1 teacher, its zero-loss
minimum found in all 48 = 3!·2³ copies, and a basin map around the teacher drawn with
matplotlib (if installed). Run: python examples/quickstart.py [OUT.png]"""
import sys

import numpy as np
import landscape

run = landscape.walk(model="2-3-1", data="teacher:n=64,seed=1", walkers=2000, init="normal:1",
                     seed=12, lr=0.1, momentum=0.9, steps=4000, tol=1e-6)
best = run.basins["classes"][0]
print(f"{best['kind']} at L = {best['loss']:.2e}: {best['copies_found']} of {int(best['copies_expected'])} copies")
print("walkers in it:", int(np.sum(run.basin[:, 0] == best["id"])), "of", len(run.status))

plane = landscape.map(model="2-3-1", data="teacher:n=64,seed=1", origin="teacher",
                      axes=["w1[0,0]=-3:3:64", "w1[1,1]=-3:3:64"], steps=2000, lr=0.1, momentum=0.9)
try:
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)
plt.imshow(plane.labels[:, :, 0].T, origin="lower", extent=(-3, 3, -3, 3), cmap="tab20")
plt.xlabel("w1[0,0]"), plt.ylabel("w1[1,1]"), plt.title("classes of the 2-3-1 student's ends")
plt.savefig(sys.argv[1] if len(sys.argv) > 1 else "quickstart.png", dpi=120)
