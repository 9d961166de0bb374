"""Benchmark: the person index (our Splink model) against FEBRL4 and against plain tutorial-style Splink.

Every contender runs in a subprocess of its own, so its peak memory is the peak resident set size of
that process (os.wait4's ru_maxrss; DuckDB's memory is invisible to tracemalloc); wall time is measured
inside the process around the linkage alone. Every DuckDB connection a contender opens gets the same
memory_limit (``--duckdb-memory``, default 8GB) and spills into the run's folder: by default DuckDB takes
up to 80% of RAM per process, and our run at a million records was OOM-killed on a 24 GiB machine.
Accuracy is scored afterwards, in processes of its own, the same way for every contender.

1. FEBRL4 (5,000 x 5,000, bench/febrl4.py): our model, links accepted at ``run.THRESHOLD``, with and
   without FEBRL's soc_sec_id, and at the threshold the model's own probabilities say maximises F1
   (label-free, one partner per record). Issue target: F1 >= 0.998.
2. The synthetic city at ``--records`` person-records (default 1,000,000, about 455,000 residents, with
   households, relatives sharing surname and address, juniors and twins), built once into
   ``.tmp/bench_linkage/`` and reused:
   ours      ``link_run`` on a DuckDB warehouse;
   baseline  Splink 5 as its tutorial sets it up, on the same gathered records: NameComparison on first
             and last name with term-frequency adjustments, DateOfBirthComparison, ExactMatch on sex and
             ZIP; u by random sampling (the tutorial's 2e6 pairs, as ours), EM blocked on first name +
             surname and on date of birth, prediction blocked on the same two rules, clusters at 0.95
             (see ``baseline_settings`` for why not the tutorial's own prediction rules).
   Both are scored by ``justicelab.linkage.evaluate`` (the baseline's clusters are written into a copy of
   the warehouse as a person index first), so pairwise and cluster precision/recall/F1 mean the same.
3. False matches between relatives: links joining records of two different true persons of one
   household (answer_key/people.csv's household_id), twins and junior/father pairs counted apart,
   per 1,000 true persons.
4. Incremental: 1% of the city's records (a hash sample) held back, the rest linked in a full run, then
   the 1% linked into that index with ``link_run(incremental=True)``, each run's phases timed. Issue
   target: under 10% of the full run's time. For this section alone: ``--skip-febrl --skip-city``.

    python bench/linkage.py                    # FEBRL4 + the city at 1,000,000 records
    python bench/linkage.py --quick            # FEBRL4 + the city at ~50,000 records
    python bench/linkage.py --records 200000 --skip-febrl
    PYTHONPATH=$PWD/.tmp/src_<commit>/src python bench/linkage.py   # a frozen copy of src (git archive)

The ratio column of the final table is ours / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".tmp" / "bench_linkage"
#: Person-records per resident in the synthetic city once ingested (measured: 973,700 from 442,145 people;
#: the demo gives 45,234 from 20,000).
RECORDS_PER_PERSON = 2.2
QUICK_RECORDS = 50_000
BASELINE_THRESHOLD = 0.95
#: DuckDB memory limit for every contender's process (``--duckdb-memory``); see ``cap_duckdb``.
DUCKDB_MEMORY: str | None = "8GB"


# --------------------------------------------------------------------------------------------------
# Workers: each runs in its own process (``python bench/linkage.py --worker NAME --job FILE.json``),
# does one contender's linkage, and writes its result next to the job file.
# --------------------------------------------------------------------------------------------------

def worker_febrl(job: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    import febrl4

    con = duckdb.connect()
    res = febrl4.run(con, with_ssn=job["with_ssn"])
    a, b, truth = febrl4.load()
    person = febrl4.truth_of(a, b, truth)
    out: dict[str, Any] = {"model": _model_in_use(), "seconds": res.seconds, "invalid_dob": res.invalid_dob,
                           "expected_f1_threshold": res.expected_f1_threshold,
                           "records": res.records,
                           "candidate_pairs": res.candidate_pairs,
                           "true_links_in_candidates": res.true_links_in_candidates, "rules": {}}
    for rule, acc in res.accepted.items():
        s = res.by_rule[rule]
        clusters = cluster_scores(febrl4.clusters_of(acc, a, b), person)
        out["rules"][rule] = {"links": s.links, "pair_precision": s.precision, "pair_recall": s.recall,
                              "pair_f1": s.f1, **clusters}
    return out


def worker_city_ours(job: dict[str, Any]) -> dict[str, Any]:
    from justicelab.linkage import link_run
    from justicelab.warehouse import Warehouse

    with Warehouse.open(job["warehouse"]) as wh:
        t0 = time.perf_counter()
        # each phase's start time goes to the worker's log (city-ours.log): where the time goes
        summary = link_run(wh, progress=lambda msg: print(f"{time.perf_counter() - t0:8.1f} s  {msg}", flush=True))
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "records": summary.records, "pairs_scored": summary.pairs_scored,
            "links": summary.links, "persons": summary.persons, "model": _model_in_use()}


def worker_city_incremental(job: dict[str, Any]) -> dict[str, Any]:
    """Hold 1% of the person-bearing records back, link the rest in a full run, put them back and link
    them incrementally: both times, and whether the incremental index is the one a full rescoring with
    the same model gives."""
    import pyarrow as pa

    from justicelab.linkage import link_run
    from justicelab.linkage.records import person_entities
    from justicelab.warehouse import Warehouse

    every = job["every"]
    with Warehouse.open(job["warehouse"]) as wh:
        held: dict[str, pa.Table] = {}
        for entity in person_entities(wh):
            # a stable 1% sample (hash of the record id), different records in every table
            where = f"hash(_record_id) % {every} = 0"
            held[entity] = wh.raw.execute(f'SELECT * FROM "{entity}" WHERE {where}').to_arrow_table()
            wh.execute(f'DELETE FROM "{entity}" WHERE {where}')
        t0 = time.perf_counter()
        full_phases: list[tuple[float, str]] = []
        full = link_run(wh, progress=_phase_log(full_phases, "full"))
        full_seconds = time.perf_counter() - t0
        for entity, rows in held.items():
            wh.insert_arrow(entity, rows)
        t0 = time.perf_counter()
        inc_phases: list[tuple[float, str]] = []
        inc = link_run(wh, incremental=True, progress=_phase_log(inc_phases, "incremental"))
        inc_seconds = time.perf_counter() - t0
    return {"full_seconds": full_seconds, "full_records": full.records, "incremental_seconds": inc_seconds,
            "new_records": sum(t.num_rows for t in held.values()), "incremental_pairs": inc.pairs_scored,
            "records": inc.records, "full_phases": _durations(full_phases, full_seconds),
            "incremental_phases": _durations(inc_phases, inc_seconds)}


def _phase_log(into: list[tuple[float, str]], run: str) -> Callable[[str], None]:
    """A ``link_run`` progress callback that notes when each phase started (and logs it)."""
    t0 = time.perf_counter()

    def note(msg: str) -> None:
        into.append((time.perf_counter() - t0, msg))
        print(f"{run:>12} {into[-1][0]:8.1f} s  {msg}", flush=True)

    return note


def _durations(phases: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """(phase, seconds) from the phases' start times and the run's total."""
    ends = [t for t, _ in phases[1:]] + [total]
    return [(msg, end - start) for (start, msg), end in zip(phases, ends, strict=True)]


def _model_in_use() -> str:
    """Which model version the worker ran, and from where it imported justicelab."""
    import justicelab
    from justicelab.linkage import model

    return f"{model.MODEL_VERSION} from {Path(justicelab.__file__).resolve().parents[1]}"


def baseline_settings() -> Any:
    """Splink's tutorial model (docs/demos/tutorials/04), on the columns the person index gathers.

    The tutorial blocks predictions on first_name + city and on surname alone; surname alone gives about
    5e9 pairs at a million records (common surnames), which does not finish on this machine, so the
    baseline predicts on the tutorial's two EM training rules instead (first name + surname, date of
    birth), which is also what the brief suggested. The tutorial's ``city`` is our ``zip``.
    """
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
            cl.ExactMatch("sex"),
            cl.ExactMatch("zip"),
        ],
        blocking_rules_to_generate_predictions=[block_on("first_name", "last_name"), block_on("date_of_birth")],
        retain_intermediate_calculation_columns=False,
    )


def worker_city_baseline(job: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    from splink import DuckDBAPI, Linker, block_on
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    from justicelab.linkage.records import gather
    from justicelab.warehouse import Warehouse

    out_dir = Path(job["out_dir"])
    t0 = time.perf_counter()
    with Warehouse.open(job["warehouse"]) as wh:
        raw = gather(wh)
    con: Any = duckdb.connect()
    con.register("raw_arrow", raw)
    con.execute("CREATE TABLE baseline_input AS SELECT unique_id, first_name, last_name, date_of_birth, sex, zip "
                "FROM raw_arrow")
    con.unregister("raw_arrow")
    del raw
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("baseline_input"), baseline_settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "date_of_birth"), block_on("first_name", "last_name")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    pred = linker.inference.predict(threshold_match_probability=BASELINE_THRESHOLD)
    clusters = cluster_pairwise_predictions_at_threshold(
        "baseline_input", pred.physical_name, db_api=db_api, node_id_column_name="unique_id",
        edge_id_column_name_left="unique_id_l", edge_id_column_name_right="unique_id_r",
        threshold_match_probability=BASELINE_THRESHOLD)
    con.execute(f"COPY (SELECT unique_id, cluster_id FROM {clusters.physical_name}) "
                f"TO '{out_dir / 'baseline_clusters.parquet'}' (FORMAT parquet)")
    seconds = time.perf_counter() - t0
    con.execute(f"COPY (SELECT unique_id_l, unique_id_r, match_probability FROM {pred.physical_name}) "
                f"TO '{out_dir / 'baseline_links.parquet'}' (FORMAT parquet)")
    pairs = int(con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchone()[0])
    return {"seconds": seconds, "links": pairs}


def worker_city_evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Score one contender's person index with ``evaluate``. For the baseline, its clusters are first
    written into its warehouse copy as the person index; its pair completeness is then recomputed for
    its own blocking rules (``evaluate`` measures the person index's rules)."""
    import duckdb

    from justicelab.linkage import evaluate
    from justicelab.linkage import store as link_store
    from justicelab.warehouse import Warehouse

    answer_key, people = Path(job["answer_key"]), Path(job["people"])
    con: Any = duckdb.connect()
    with Warehouse.open(job["warehouse"]) as wh:
        if job["clusters"]:
            link_store.ensure_link_tables(wh)
            wh.execute(f"""INSERT INTO "{link_store.PERSON_INDEX}" (record_id, person_id, run_id, linkable)
                           SELECT unique_id, 'C' || cluster_id, 1, TRUE FROM read_parquet('{job["clusters"]}')""")
            con.execute(f"CREATE TABLE links AS SELECT unique_id_l, unique_id_r FROM read_parquet('{job['links']}')")
        else:
            con.register("links_arrow", wh.ibis.table(link_store.PAIRS).select(
                unique_id_l="record_l", unique_id_r="record_r").to_pyarrow())
            con.execute("CREATE TABLE links AS SELECT * FROM links_arrow")
        scores = evaluate(wh, answer_key, people)[0]
        if job["clusters"]:
            scores["pair_completeness"] = _baseline_completeness(wh, answer_key)
        con.register("clusters_arrow", wh.ibis.table(link_store.PERSON_INDEX).select(
            "record_id", cluster="person_id").to_pyarrow())
        con.execute("CREATE TABLE clusters AS SELECT * FROM clusters_arrow")
    relatives = relative_false_matches(con, "links", "clusters", answer_key, people)
    return {"scores": scores, "relatives": relatives}


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "febrl": worker_febrl,
    "city-ours": worker_city_ours,
    "city-baseline": worker_city_baseline,
    "city-incremental": worker_city_incremental,
    "city-evaluate": worker_city_evaluate,
}


@dataclass
class Measured:
    result: dict[str, Any]
    peak_mb: float
    process_seconds: float
    #: Why the process did not finish (killed by the kernel, usually for memory), or None.
    killed: str | None = None


def measure(worker: str, job: dict[str, Any], folder: Path) -> Measured:
    """Run one worker in a fresh Python process; its result, its peak RSS and its life time.

    The process runs in ``folder``: an in-memory DuckDB spills to ``.tmp/`` under its working directory,
    so spill files land there and go with the run. A worker killed by a signal (the kernel's OOM killer
    sends SIGKILL) is reported, not raised: the other contenders still run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    job_file = folder / f"{worker}.job.json"
    job_file.write_text(json.dumps({"duckdb_memory": DUCKDB_MEMORY, **job}))
    log = folder / f"{worker}.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", worker,
                                 "--job", str(job_file)], stdout=fh, stderr=subprocess.STDOUT, cwd=folder)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t0
    peak = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    if proc.returncode < 0:
        import signal

        why = f"killed by {signal.Signals(-proc.returncode).name} after {elapsed:.0f} s at {peak:,.0f} MB"
        return Measured({}, peak, elapsed, killed=why + (" (out of memory?)" if proc.returncode == -9 else ""))
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"worker {worker} failed (exit {proc.returncode}); last lines of {log}:\n{tail}")
    result = json.loads(job_file.with_suffix(".out.json").read_text())
    return Measured(result, peak, elapsed)


# --------------------------------------------------------------------------------------------------
# Scoring shared by the sections.
# --------------------------------------------------------------------------------------------------

def _f1(p: float | None, r: float | None) -> float | None:
    return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)


def cluster_scores(cluster_of: dict[str, str], person_of: dict[str, str]) -> dict[str, float | None]:
    """Pairwise and cluster precision/recall/F1 with justicelab.linkage.evaluate's definitions (pairs
    counted from cluster sizes; a cluster is right when it holds exactly one person's records), for
    small in-memory mappings. The city uses ``evaluate`` itself."""
    from collections import Counter

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    recs = [x for x in person_of if x in cluster_of]
    true_pairs = pairs(Counter(person_of[x] for x in recs))
    pred_pairs = pairs(Counter(cluster_of[x] for x in recs))
    tp = pairs(Counter((person_of[x], cluster_of[x]) for x in recs))
    by_person: dict[str, list[str]] = {}
    by_cluster: dict[str, list[str]] = {}
    for x in sorted(recs):
        by_person.setdefault(person_of[x], []).append(x)
        by_cluster.setdefault(cluster_of[x], []).append(x)
    exact = len({tuple(v) for v in by_person.values()} & {tuple(v) for v in by_cluster.values()})
    p = tp / pred_pairs if pred_pairs else None
    r = tp / true_pairs if true_pairs else None
    cp, cr = exact / len(by_cluster), exact / len(by_person)
    return {"pair_precision": p, "pair_recall": r, "pair_f1": _f1(p, r),
            "cluster_precision": cp, "cluster_recall": cr, "cluster_f1": _f1(cp, cr)}


RELATIVE_KINDS = ("twins", "junior and father", "other household member", "not relatives")


def relative_false_matches(con: Any, links: str, clusters: str, answer_key: Path, people: Path) -> dict[str, Any]:
    """Pairs of different true persons joined by a link (table ``links``: unique_id_l, unique_id_r) or put
    in one cluster (table ``clusters``: record_id, cluster), by how the two persons are related."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rel_truth AS SELECT source || ':' || record_key AS record_id,
                    person_id FROM read_csv('{answer_key}', all_varchar = true, header = true)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rel_people AS
                    SELECT person_id, household_id, first_name, household_role,
                           lower(twin) = 'true' AS twin, lower(junior) = 'true' AS junior
                    FROM read_csv('{people}', all_varchar = true, header = true)""")
    kind = """CASE WHEN a.household_id <> b.household_id THEN 'not relatives'
                   WHEN a.twin AND b.twin THEN 'twins'
                   WHEN (a.junior OR b.junior) AND a.first_name = b.first_name THEN 'junior and father'
                   ELSE 'other household member' END"""

    def person_pairs(pairs_sql: str) -> dict[str, int]:
        rows = con.execute(f"""
            WITH p AS ({pairs_sql}),
                 d AS (SELECT DISTINCT least(pl, pr) AS pa, greatest(pl, pr) AS pb FROM p WHERE pl <> pr)
            SELECT {kind} AS kind, count(*) FROM d JOIN rel_people a ON a.person_id = d.pa
            JOIN rel_people b ON b.person_id = d.pb GROUP BY ALL""").fetchall()
        got = dict.fromkeys(RELATIVE_KINDS, 0)
        got.update({k: int(n) for k, n in rows})
        return got

    by_link = person_pairs(f"""SELECT tl.person_id AS pl, tr.person_id AS pr FROM {links} e
                               JOIN rel_truth tl ON tl.record_id = e.unique_id_l
                               JOIN rel_truth tr ON tr.record_id = e.unique_id_r""")
    by_cluster = person_pairs(f"""
        WITH c AS (SELECT DISTINCT c.cluster, t.person_id FROM {clusters} c
                   JOIN rel_truth t USING (record_id))
        SELECT a.person_id AS pl, b.person_id AS pr FROM c a JOIN c b
        ON a.cluster = b.cluster AND a.person_id < b.person_id""")
    persons = int(con.execute(f"""SELECT count(DISTINCT t.person_id) FROM rel_truth t
                                  JOIN {clusters} USING (record_id)""").fetchone()[0])
    # How many twin and junior pairs the data could have confused at all (both persons have records).
    present = con.execute(f"""
        WITH here AS (SELECT DISTINCT t.person_id FROM rel_truth t JOIN {clusters} USING (record_id)),
             hp AS (SELECT p.* FROM rel_people p JOIN here USING (person_id))
        SELECT count(*) FILTER (WHERE a.twin AND b.twin),
               count(*) FILTER (WHERE (a.junior OR b.junior) AND a.first_name = b.first_name
                                AND NOT (a.twin AND b.twin)),
               count(*)
        FROM hp a JOIN hp b ON a.household_id = b.household_id AND a.person_id < b.person_id""").fetchone()
    return {"persons": persons, "by_link": by_link, "by_cluster": by_cluster,
            "present": {"twins": int(present[0]), "junior and father": int(present[1]),
                        "household pairs": int(present[2])}}


# --------------------------------------------------------------------------------------------------
# The synthetic city, built once per size into the cache.
# --------------------------------------------------------------------------------------------------

def city_cache(records: int, seed: int, years: int) -> Path:
    """A folder with the generated extracts, ``wh.duckdb`` (everything ingested) and ``ready.json``."""
    from justicelab.ingest import ingest_file, load_mapping
    from justicelab.synth import generate_city
    from justicelab.warehouse import Warehouse

    people = max(100, round(records / RECORDS_PER_PERSON))
    folder = CACHE / f"city-p{people}-y{years}-s{seed}"
    ready = folder / "ready.json"
    if ready.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    print(f"   building the synthetic city ({people:,} people) into {folder.relative_to(ROOT)} ...", flush=True)
    manifest = generate_city(folder / "files", people=people, years=years, seed=seed)
    t1 = time.perf_counter()
    with Warehouse.open(str(folder / "wh.duckdb")) as wh:
        for s in manifest.sources:
            ingest_file(wh, s.path, load_mapping(s.mapping))
    t2 = time.perf_counter()
    ready.write_text(json.dumps({"people": people, "generate_seconds": t1 - t0, "ingest_seconds": t2 - t1}))
    print(f"   built in {t1 - t0:.0f} s, ingested in {t2 - t1:.0f} s", flush=True)
    return folder


# --------------------------------------------------------------------------------------------------
# Sections. Each prints its own figures and returns rows for the final table:
# (figure, ours, baseline, target) -- the ratio column is ours / baseline.
# --------------------------------------------------------------------------------------------------

Row = tuple[str, float | None, float | None, str]


@dataclass
class Context:
    args: argparse.Namespace
    run_dir: Path
    #: Set by the city section for later sections: the cache folder and the run's warehouse copies.
    city: dict[str, Any] = field(default_factory=dict)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def section_febrl(ctx: Context) -> list[Row]:
    print("1. FEBRL4 (5,000 x 5,000), our model: links accepted at p >= run.THRESHOLD (0.9), one per record, and "
          "at the threshold of greatest expected F1 (label-free)")
    rows: list[Row] = []
    for with_ssn in (False, True):
        m = measure("febrl", {"with_ssn": with_ssn}, ctx.run_dir / ("febrl-ssn" if with_ssn else "febrl"))
        if m.killed:
            raise SystemExit(f"FEBRL4 worker {m.killed}")
        r = m.result
        label = "with soc_sec_id" if with_ssn else "without soc_sec_id"
        if not with_ssn:
            print(f"   (worker ran {r['model']})")
        print(f"   {label}: {r['records']:,} linkable records ({r['invalid_dob']} invalid dates of birth -> null), "
              f"{r['candidate_pairs']:,} A x B candidate pairs holding {r['true_links_in_candidates']:,} of the "
              f"5,000 true links")
        print(f"      time {r['seconds']:.1f} s (process {m.process_seconds:.1f} s), peak memory {m.peak_mb:,.0f} MB; "
              f"expected-F1 threshold {r['expected_f1_threshold']:.3f}")
        for rule, s in r["rules"].items():
            print(f"      {rule:<11}  links {s['links']:,}  pairwise P {_fmt(s['pair_precision'])} "
                  f"R {_fmt(s['pair_recall'])} F1 {_fmt(s['pair_f1'])}   cluster P {_fmt(s['cluster_precision'])} "
                  f"R {_fmt(s['cluster_recall'])} F1 {_fmt(s['cluster_f1'])}")
        rows.append((f"FEBRL4 pairwise F1 at 0.9, {label}", r["rules"]["threshold"]["pair_f1"], None, ""))
        rows.append((f"FEBRL4 pairwise F1 at expected-F1 threshold, {label}", r["rules"]["expected_f1"]["pair_f1"],
                     None, ">= 0.998"))
    return rows


def section_city(ctx: Context) -> list[Row]:
    args = ctx.args
    print(f"2. synthetic city at ~{args.records:,} person-records: ours (link_run) vs tutorial-style Splink")
    folder = city_cache(args.records, args.seed, args.years)
    answer_key = folder / "files" / "answer_key" / "answer_key.csv"
    people = folder / "files" / "answer_key" / "people.csv"
    run = ctx.run_dir / "city"
    run.mkdir(parents=True, exist_ok=True)
    copies = {}
    for who in ("ours", "baseline"):
        copies[who] = run / f"{who}.duckdb"
        shutil.copy(folder / "wh.duckdb", copies[who])
    ctx.city.update(folder=folder, answer_key=answer_key, people=people, copies=copies)

    measured: dict[str, Measured] = {}
    if not args.skip_ours:
        measured["ours"] = measure("city-ours", {"warehouse": str(copies["ours"])}, run)
    if not args.skip_baseline:
        measured["baseline"] = measure("city-baseline", {"warehouse": str(copies["baseline"]), "out_dir": str(run)},
                                       run)

    # Scored in a process of its own too: evaluate() loads every record again, and DuckDB draws progress
    # bars on long queries, which belong in a log rather than in this output.
    paths = {"answer_key": str(answer_key), "people": str(people)}
    scores: dict[str, dict[str, Any]] = {}
    relatives: dict[str, dict[str, Any]] = {}
    for who, m in measured.items():
        if m.killed:
            continue
        job = {**paths, "warehouse": str(copies[who]),
               "clusters": str(run / "baseline_clusters.parquet") if who == "baseline" else None,
               "links": str(run / "baseline_links.parquet") if who == "baseline" else None}
        got = measure("city-evaluate", job, run / f"evaluate-{who}")
        if got.killed:
            raise SystemExit(f"scoring {who} was {got.killed}")
        scores[who], relatives[who] = got.result["scores"], got.result["relatives"]

    for who, m in measured.items():
        if m.killed:
            print(f"   {who:<8}: did not finish: {m.killed}")
        elif who == "ours":
            print(f"   (worker ran {m.result['model']})")
            print(f"   ours    : {m.result['seconds']:8.1f} s  peak {m.peak_mb:8,.0f} MB   "
                  f"pairs kept (p >= 0.5) {m.result['pairs_scored']:,}, links {m.result['links']:,}, "
                  f"persons {m.result['persons']:,}")
        else:
            print(f"   baseline: {m.result['seconds']:8.1f} s  peak {m.peak_mb:8,.0f} MB   "
                  f"links >= {BASELINE_THRESHOLD} {m.result['links']:,}")
    for who, s in scores.items():
        print(f"   {who:<8}: pairwise P {_fmt(s['pair_precision'])} R {_fmt(s['pair_recall'])} "
              f"F1 {_fmt(s['pair_f1'])}   cluster P {_fmt(s['cluster_precision'])} R {_fmt(s['cluster_recall'])} "
              f"F1 {_fmt(s['cluster_f1'])}   pair completeness {_fmt(s['pair_completeness'])} "
              f"({s['clusters']:,} clusters)")
    if scores:
        first = next(iter(scores.values()))
        print(f"   scored {first['records']:,} records of {first['persons']:,} true persons (answer-key records "
              f"not in the index: {first['key_records_not_in_index']:,}, quarantined at ingest)")
    if relatives:
        print("3. different true persons joined (per 1,000 true persons; person pairs)")
        pres = next(iter(relatives.values()))["present"]
        print(f"   in the data: {pres['twins']:,} twin pairs, {pres['junior and father']:,} junior/father pairs, "
              f"{pres['household pairs']:,} household pairs (all kinds) among "
              f"{next(iter(relatives.values()))['persons']:,} persons")
    for who, rel in relatives.items():
        k = 1000 / rel["persons"]
        for level in ("by_link", "by_cluster"):
            counts = rel[level]
            print(f"   {who:<8} {level.replace('_', ' '):<10}: " + ", ".join(
                f"{kind} {counts[kind]:,} ({counts[kind] * k:.2f})" for kind in RELATIVE_KINDS))

    def value(who: str, get: Callable[[Measured], float]) -> float | None:
        m = measured.get(who)
        return get(m) if m is not None and not m.killed else None

    rows: list[Row] = [
        ("city wall time (s)", value("ours", lambda m: m.result["seconds"]),
         value("baseline", lambda m: m.result["seconds"]), "ours <= baseline"),
        ("city peak memory (MB)", value("ours", lambda m: m.peak_mb), value("baseline", lambda m: m.peak_mb),
         "ours <= 0.5 x baseline"),
    ]
    o, b = scores.get("ours", {}), scores.get("baseline", {})
    for key in ("pair_precision", "pair_recall", "pair_f1", "cluster_precision", "cluster_recall", "cluster_f1",
                "pair_completeness"):
        rows.append((f"city {key.replace('_', ' ')}", o.get(key), b.get(key),
                     "ours >= 0.97" if key == "cluster_f1" else ""))
    for kind in RELATIVE_KINDS:
        per = {who: rel["by_cluster"][kind] * 1000 / rel["persons"] for who, rel in relatives.items()}
        rows.append((f"city {kind} merged / 1,000 persons", per.get("ours"), per.get("baseline"), ""))
    return rows


def _baseline_completeness(wh: Any, answer_key: Path) -> float | None:
    """Share of true pairs that the baseline's own prediction blocking rules put in front of its model."""
    import duckdb

    from justicelab.linkage.records import gather

    rules = " OR ".join(f"({r.get_blocking_rule('duckdb').blocking_rule_sql})"
                        for r in baseline_settings().blocking_rules_to_generate_predictions)
    con: Any = duckdb.connect()
    con.register("g", gather(wh))
    con.execute(f"""CREATE TABLE t AS SELECT g.*, k.person_id FROM g JOIN (
                      SELECT source || ':' || record_key AS unique_id, person_id
                      FROM read_csv('{answer_key}', all_varchar = true, header = true)) k USING (unique_id)""")
    total, hit = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {rules}) FROM t l JOIN t r
        ON l.person_id = r.person_id AND l.unique_id < r.unique_id""").fetchone()
    con.close()
    return hit / total if total else None


def section_incremental(ctx: Context) -> list[Row]:
    """Issue target: linking 1% new records into the index takes under 10% of a full run."""
    folder = ctx.city.get("folder") or city_cache(ctx.args.records, ctx.args.seed, ctx.args.years)
    print("4. incremental: 1% of the records held back, the rest linked in a full run, then the 1% linked "
          "into that index")
    copy = ctx.run_dir / "incremental" / "wh.duckdb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / "wh.duckdb", copy)
    m = measure("city-incremental", {"warehouse": str(copy), "every": 100}, copy.parent)
    if m.killed:
        print(f"   did not finish: {m.killed}")
        return [("incremental 1% / full run (time)", None, None, "< 0.10")]
    r = m.result
    ratio = r["incremental_seconds"] / r["full_seconds"]
    print(f"   full run on {r['full_records']:,} records: {r['full_seconds']:.1f} s; incremental, "
          f"{r['new_records']:,} new records ({r['incremental_pairs']:,} pairs scored): "
          f"{r['incremental_seconds']:.1f} s; ratio {ratio:.3f} (target < 0.10); peak {m.peak_mb:,.0f} MB")
    for run in ("full", "incremental"):
        print(f"   {run} phases: " + ", ".join(f"{msg} {sec:.1f} s" for msg, sec in r[f"{run}_phases"]))
    return [("incremental 1% time (s); baseline = full run", r["incremental_seconds"], r["full_seconds"],
             "ratio < 0.10")]


# The sections, in order.
SECTIONS: list[tuple[str, Callable[[Context], list[Row]]]] = [
    ("febrl", section_febrl),
    ("city", section_city),
    ("incremental", section_incremental),
]


def print_table(rows: list[Row]) -> None:
    print()
    head = f"{'figure':<52} {'ours':>12} {'baseline':>12} {'ratio':>8}  target"
    print(head)
    print("-" * len(head))
    for figure, ours, base, target in rows:
        ratio = ours / base if ours is not None and base else None
        digits = 1 if ("time" in figure or "memory" in figure or "/ 1,000" in figure) else 4
        print(f"{figure:<52} {_fmt(ours, digits):>12} {_fmt(base, digits):>12} {_fmt(ratio, 2):>8}  {target}")
    print("ratio = ours / baseline")


def cap_duckdb(memory_limit: str | None, spill: Path) -> None:
    """Give every DuckDB connection this process opens (ours, Splink's, Ibis's) the same memory limit and
    a spill folder of the run's own. DuckDB otherwise takes up to 80% of RAM per process whatever the
    job needs, so its peak RSS says more about the machine than about the contender, and at a million
    records our run was OOM-killed on this 24 GiB machine with other work running beside it."""
    if not memory_limit:
        return
    import duckdb

    plain = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        config = dict(kwargs.pop("config", None) or {})
        config.setdefault("memory_limit", memory_limit)
        config.setdefault("temp_directory", str(spill))
        kwargs["config"] = config
        return plain(*args, **kwargs)

    duckdb.connect = connect


def print_versions() -> None:
    """What was measured: the model version and whether src differs from the last commit."""
    import duckdb
    import splink

    import justicelab
    from justicelab.linkage import model

    src = Path(justicelab.__file__).resolve().parents[1]
    if src == ROOT / "src":
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
        state = (git.stdout.strip() or "unknown") + (" + uncommitted changes under src/" if dirty.stdout.strip()
                                                     else "")
    else:  # e.g. PYTHONPATH=.tmp/src_<commit>/src, a snapshot taken with git archive
        state = f"justicelab imported from {src}"
    print(f"model {model.MODEL_VERSION}, splink {splink.__version__}, duckdb {duckdb.__version__}, git {state}, "
          f"{os.cpu_count()} cores")


def main() -> None:
    global DUCKDB_MEMORY
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="person-records in the synthetic city")
    parser.add_argument("--quick", action="store_true", help=f"the city at ~{QUICK_RECORDS:,} records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-city", action="store_true")
    parser.add_argument("--skip-ours", action="store_true", help="the city without our model (baseline only)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--duckdb-memory", default=DUCKDB_MEMORY,
                        help="DuckDB memory_limit in every contender's process ('' for DuckDB's own default, "
                             "80%% of RAM)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import logging
        import warnings

        logging.disable(logging.WARNING)  # Splink's training chatter goes to the worker's log otherwise
        warnings.filterwarnings("ignore")
        job = json.loads(args.job.read_text())
        cap_duckdb(job.get("duckdb_memory"), args.job.parent / "duckdb_tmp")
        result = WORKERS[args.worker](job)
        args.job.with_suffix(".out.json").write_text(json.dumps(result))
        return
    if args.quick:
        args.records = QUICK_RECORDS
    DUCKDB_MEMORY = args.duckdb_memory or None
    print_versions()
    print(f"DuckDB memory_limit in every contender's process: {DUCKDB_MEMORY or 'DuckDB default (80% of RAM)'}")
    run_dir = CACHE / f"run-{os.getpid()}"
    ctx = Context(args, run_dir)
    skip = {"febrl": args.skip_febrl, "city": args.skip_city, "incremental": args.skip_incremental}
    rows: list[Row] = []
    try:
        for name, section in SECTIONS:
            if not skip.get(name, False):
                rows += section(ctx)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
