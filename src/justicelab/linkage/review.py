"""The clerical review queue: uncertain pairs that leave two persons apart, decided by a person.

Accepting a pair records a must-link decision and merges the two persons at once; rejecting records a
cannot-link decision. Every later run honours both. A decision about a record that has since gone from
the warehouse is refused and the review marked stale, never applied blindly.
"""

from __future__ import annotations

from typing import Any

from justicelab.linkage import store
from justicelab.linkage.scoring import decode_levels
from justicelab.linkage.store import LinkageError, utcnow
from justicelab.warehouse import Warehouse


def list_reviews(warehouse: Warehouse, status: str | None = "pending", limit: int = 50) -> list[dict[str, Any]]:
    if not warehouse.has_table(store.REVIEWS):
        return []
    t = warehouse.ibis.table(store.REVIEWS)
    if status:
        t = t.filter(t.status == status)
    t = t.order_by("review_id").limit(limit)
    return [dict(r) for r in t.select("review_id", "record_l", "record_r", "match_probability", "match_weight",
                                      "status", "reason").to_pyarrow().to_pylist()]


def get_review(warehouse: Warehouse, review_id: int) -> dict[str, Any]:
    if warehouse.has_table(store.REVIEWS):
        t = warehouse.ibis.table(store.REVIEWS)
        rows = t.filter(t.review_id == review_id).to_pyarrow().to_pylist()
        if rows:
            row = dict(rows[0])
            row["levels"] = decode_levels(store.run_model(warehouse, row["run_id"]), row["levels"])
            return row
    raise LinkageError(f"no review {review_id} (see `justicelab link review list`)")


def show_review(warehouse: Warehouse, review_id: int) -> list[dict[str, Any]]:
    """The review's explanation: each comparison's level and weight, as stored when it was queued."""
    r = get_review(warehouse, review_id)
    rows = [{"comparison": name, "level": v["level"], "weight": v["weight"]} for name, v in r["levels"].items()]
    rows.append({"comparison": "total", "level": f"probability {r['match_probability']:.4f}",
                 "weight": round(r["match_weight"], 2)})
    if r.get("reason"):
        rows.append({"comparison": "held back", "level": r["reason"], "weight": None})
    return rows


def decide(warehouse: Warehouse, review_id: int, accept: bool, *, by: str, note: str | None = None) -> str:
    """Accept (must link) or reject (cannot link) a pending review; returns what was done."""
    review = get_review(warehouse, review_id)
    if review["status"] != "pending":
        raise LinkageError(f"review {review_id} is already {review['status']}")
    ids = store.person_ids(warehouse)
    missing = [r for r in (review["record_l"], review["record_r"]) if r not in ids]
    with warehouse.transaction():
        if missing:
            warehouse.execute(f"UPDATE \"{store.REVIEWS}\" SET status = 'stale', decided_at = "
                              f"TIMESTAMP '{utcnow().isoformat(sep=' ')}' WHERE review_id = {int(review_id)}")
        else:
            decision = "must_link" if accept else "cannot_link"
            store.append_rows(warehouse, store.DECISIONS, [{
                "decision_id": store.next_id(warehouse, store.DECISIONS, "decision_id"),
                "record_l": review["record_l"], "record_r": review["record_r"], "decision": decision,
                "decided_by": by, "decided_at": utcnow(), "review_id": int(review_id), "note": note}])
            status = "accepted" if accept else "rejected"
            warehouse.execute(
                f"UPDATE \"{store.REVIEWS}\" SET status = '{status}', decided_by = '{by.replace(chr(39), '')}', "
                f"decided_at = TIMESTAMP '{utcnow().isoformat(sep=' ')}' WHERE review_id = {int(review_id)}")
            merged = _merge(warehouse, ids[review["record_l"]], ids[review["record_r"]], review_id) if accept else ""
    if missing:
        raise LinkageError(f"review {review_id} names record {', '.join(missing)}, which no longer exists; "
                           "marked stale, nothing applied")
    if accept:
        return f"review {review_id} accepted: must link recorded; {merged}"
    return f"review {review_id} rejected: cannot link recorded; every later run keeps these records apart"


def _merge(warehouse: Warehouse, a: str, b: str, review_id: int) -> str:
    if a == b:
        return "the two records already belong to one person"
    keep, gone = sorted((a, b))
    records = warehouse.count(store.PERSON_INDEX, f"person_id = '{gone}'")
    warehouse.execute(f"UPDATE \"{store.PERSON_INDEX}\" SET person_id = '{keep}' WHERE person_id = '{gone}'")
    run = store.latest_run(warehouse)
    run_id = run["run_id"] if run else 0
    store.append_rows(warehouse, store.HISTORY, [
        {"run_id": run_id, "event": "merged", "person_id": keep, "related": gone, "records": records,
         "detail": f"reviewer accepted review {review_id}"},
        {"run_id": run_id, "event": "retired", "person_id": gone, "related": keep, "records": 0,
         "detail": f"merged into {keep} by review {review_id}"}])
    return f"{gone} merged into {keep} ({records} record(s) moved)"
