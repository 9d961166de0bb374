"""DOJ's real deaths-in-custody file (2005-2018 release): its risk as published, and after the public policy in
docs/examples/policies/custody_death_public.yaml, measured on the released file by privacy.risk and pycanon."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from pycanon import anonymity

from justicelab.privacy.anonymize import anonymize, load_policy
from justicelab.privacy.risk import assess, open_file, open_table
from justicelab.warehouse import Generaliser
from tests.privacy.test_risk_real import RELEASE_2019, STANDARD, real_wh  # noqa: F401 - the fixture

POLICY = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policies" / "custody_death_public.yaml"


def test_the_public_policy_takes_the_published_file_from_unique_records_to_k_11(real_wh, tmp_path):  # noqa: F811
    gen = Generaliser.for_warehouse(STANDARD, real_wh)
    with open_table(real_wh, "custody_death", STANDARD) as ds:
        published = assess(ds, "county,year,month,age,sex,race", "manner_of_death", generaliser=gen,
                           where=RELEASE_2019, top=0)
    with open_table(real_wh, "custody_death", STANDARD) as ds:
        result = anonymize(ds, load_policy(POLICY), generaliser=gen, out=tmp_path)
    release = tmp_path / "custody_death.csv"
    qi = ["county", "date_of_death", "age", "sex", "race"]
    with open_file(release, STANDARD) as released_ds:
        after = assess(released_ds, ",".join(qi), "manner_of_death", generaliser=gen, top=0)
    print(f"\nas published (county, year, month, age, sex, race; {published.records} deaths): "
          f"k={published.classes.k}, unique {published.classes.sample_uniqueness:.4f}, records in classes < 11 "
          f"{published.prosecutor.share_at_risk:.4f}, prosecutor risk highest {published.prosecutor.highest:.3f} "
          f"average {published.prosecutor.average:.4f}, l={published.diversity[0].l_diversity}")
    print(f"after the public policy: levels {result.levels}; {result.released} released, {result.suppressed} "
          f"suppressed ({result.suppressed / result.records:.2%}); k={after.classes.k}, unique "
          f"{after.classes.sample_uniqueness:.4f}, records in classes < 11 {after.prosecutor.share_at_risk:.4f}, "
          f"prosecutor risk highest {after.prosecutor.highest:.3f} average {after.prosecutor.average:.4f}, "
          f"l={after.diversity[0].l_diversity}, t={after.diversity[0].t_closeness:.3f}; NCP {result.chosen.ncp:.4f}; "
          f"{result.search.evaluated} of {result.search.lattice_size} nodes evaluated in {result.seconds:.2f} s")
    assert published.records == result.records == 9_910
    assert published.classes.k == 1 and published.classes.sample_uniqueness > 0.95
    assert after.records == result.released and result.suppressed <= 0.05 * result.records
    assert after.classes.k >= 11 and after.classes.sample_uniqueness == 0
    assert after.prosecutor.highest <= 1 / 11 and after.prosecutor.share_at_risk == 0
    assert after.diversity[0].l_diversity >= 2
    merge = result.plan.merge
    assert merge is not None and merge.year == 2018 and "alpine" in merge.small and "los_angeles" not in merge.small
    frame = pd.read_csv(release, dtype=str, keep_default_na=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert anonymity.k_anonymity(frame, qi) >= 11
        assert anonymity.l_diversity(frame, qi, ["manner_of_death"]) >= 2
    assert set(frame.columns) == {*qi, "manner_of_death"}
