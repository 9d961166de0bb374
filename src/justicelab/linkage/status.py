"""What the person index holds: ``link status`` and ``person show``."""

from __future__ import annotations

import math
from typing import Any

from justicelab.linkage import store
from justicelab.linkage.store import LinkageError
from justicelab.warehouse import Warehouse

SIZE_BANDS = ((1, "1 record"), (2, "2-5 records"), (6, "6-10 records"), (11, "11+ records"))


def status(warehouse: Warehouse) -> dict[str, list[dict[str, Any]]]:
    """Sections: the latest run, persons by number of records, reviews, and the trained model's weights."""
    run = store.latest_run(warehouse)
    if run is None:
        raise LinkageError("no person index yet: run `justicelab link run`")
    summary = [{"measure": k, "value": run[k]} for k in (
        "run_id", "kind", "started_at", "finished_at", "model_version", "records", "unlinkable", "pairs_scored",
        "links", "persons", "threshold", "review_low")]
    summary.append({"measure": "records now in the index", "value": warehouse.count(store.PERSON_INDEX)})
    summary.append({"measure": "persons now in the index", "value": int(warehouse.scalar(
        f'SELECT count(DISTINCT person_id) FROM "{store.PERSON_INDEX}"') or 0)})
    sizes = warehouse.execute(f"""SELECT n, count(*) FROM (SELECT person_id, count(*) AS n FROM "{store.PERSON_INDEX}"
                                  GROUP BY person_id) s GROUP BY n""")
    by_band: dict[str, int] = {label: 0 for _, label in SIZE_BANDS}
    for n, count in sizes:
        label = [lbl for lo, lbl in SIZE_BANDS if n >= lo][-1]
        by_band[label] += int(count)
    clusters = [{"persons with": k, "persons": v} for k, v in by_band.items()]
    reviews = [{"status": s, "pairs": int(c)} for s, c in warehouse.execute(
        f'SELECT status, count(*) FROM "{store.REVIEWS}" GROUP BY status ORDER BY status')]
    weights = []
    for comp in run["model"]["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weights.append({"comparison": comp["output_column_name"], "level": level["label_for_charts"],
                            "m": round(m, 4) if m else None, "u": round(u, 6) if u else None,
                            "match_weight": round(math.log2(m / u), 2) if m and u else None})
    return {"run": summary, "persons by size": clusters, "reviews": reviews, "model": weights}
