"""SAM-MTL (Phan et al. 2022) with CAGrad as the aggregator of both components, then AdamW.

submissions/mtl/sam_mtl.py with `aggregator` = "cagrad" by default (the authors'
`--method cagrad`, c = 0.4, CAGrad's rescaling by 1 / (1 + c²) as their `CAGrad(...,
rescale=1)`): a file of its own so that scoring tells the two apart (records are named by
submission file). Its other defaults and the lab's departures are sam_mtl.py's.
"""

from __future__ import annotations

from submissions.mtl.sam_mtl import make_optimizer, train_metrics  # noqa: F401
from submissions.mtl import sam_mtl

HPARAMS = {**sam_mtl.HPARAMS, "aggregator": "cagrad"}
MULTI_TASK = True  # the conformance suite runs it on gnn and a two-task quadratic
