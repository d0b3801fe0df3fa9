"""Field-3066 spirometry: reading, measuring and simulating blows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from gemcont.errors import InputError
from gemcont.io.spirometry import (
    SAMPLE_INTERVAL_S,
    best_blow,
    blow_metrics,
    flow_volume,
    format_blow,
    parse_blow,
    read_3066_table,
)
from gemcont.simulate.spirometry import (
    ShapeNuisance,
    latent_to_shape,
    person_shape,
    simulate_blow,
    simulate_spirometry,
)


def _exponential_blow(fvc_l: float = 4.0, tau: float = 0.5, seconds: float = 12.0) -> np.ndarray:
    t = np.arange(int(seconds / SAMPLE_INTERVAL_S) + 1) * SAMPLE_INTERVAL_S
    return 1000.0 * fvc_l * (1.0 - np.exp(-t / tau))


def _people(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.integers(0, 2, n)
    iid = [f"id{i}" for i in range(n)]
    return pd.DataFrame(
        {
            "FID": iid,
            "IID": iid,
            "age": rng.uniform(40, 70, n),
            "sex": sex,
            "height": np.where(sex == 1, rng.normal(176, 7, n), rng.normal(163, 6, n)),
            "latent_0": rng.normal(size=n),
            "latent_1": rng.normal(size=n),
            "latent_2": rng.normal(size=n),
        }
    )


def test_format_parse_round_trip():
    volume = np.array([0.0, 0.4, 12.6, 250.0, 1800.2, 1800.2, 3999.7])
    text = format_blow(volume)
    assert text == "0,0,13,250,1800,1800,4000"
    np.testing.assert_array_equal(parse_blow(text), np.rint(volume))
    assert parse_blow(text).dtype == np.float64


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0,10,abc,30", "not a number"),
        ("0,10,,30", "not a number"),
        ("0,10,nan,30", "not finite"),
        ("5", "at least 2"),
        ("0,500,1000,900,1100", "decreases by 100"),
    ],
)
def test_parse_blow_rejects_malformed(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_blow(text)


def test_parse_blow_tolerates_small_dips():
    assert parse_blow("0,500,1000,960,1100")[3] == 960.0


def test_read_3066_table(tmp_path):
    path = tmp_path / "s.tsv"
    a, b = format_blow(_exponential_blow(3.0)), format_blow(_exponential_blow(4.0))
    path.write_text(
        f"eid\t3066-0.0\t3066-0.1\t3066-0.2\n1001\t{a}\t\t{b}\n1002\t\t\t\n1003\t{b}\t\t\n"
    )
    blows = read_3066_table(path)
    assert list(blows) == ["1001", "1003"]
    assert len(blows["1001"]) == 2
    assert blows["1001"][1][-1] == pytest.approx(4000, abs=1)


def test_read_3066_table_names_eid_and_column_of_bad_blow(tmp_path):
    path = tmp_path / "s.tsv"
    good = format_blow(_exponential_blow())
    path.write_text(
        f"eid\t3066-0.0\t3066-0.1\t3066-0.2\n1001\t{good}\t\t\n1002\t{good}\t0,10,x,20\t\n"
    )
    with pytest.raises(InputError) as info:
        read_3066_table(path)
    assert info.value.record == "eid 1002, column 3066-0.1"
    assert "1002" in str(info.value) and "not a number" in str(info.value)


def test_read_3066_table_requires_columns(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("id\t3066-0.0\nx\t0,1,2\n")
    with pytest.raises(InputError, match="eid"):
        read_3066_table(path)
    path.write_text("eid\tother\nx\t0,1,2\n")
    with pytest.raises(InputError, match="3066"):
        read_3066_table(path)


@pytest.mark.parametrize("tau", [0.3, 0.5, 0.9])
def test_blow_metrics_on_analytic_curve(tau):
    fvc = 4.0
    m = blow_metrics(_exponential_blow(fvc, tau))
    assert m["fev1"] == pytest.approx(fvc * (1 - np.exp(-1 / tau)), rel=0.01)
    assert m["fvc"] == pytest.approx(fvc, rel=0.001)
    assert m["fev1_fvc"] == pytest.approx(m["fev1"] / m["fvc"])
    assert m["pef"] == pytest.approx(fvc / tau, rel=0.15)  # smoothing blunts the peak
    assert abs(m["t0"]) < 0.03


def test_back_extrapolation_handles_hesitation():
    # a curve with a slow, hesitant start: flow ramps up over 0.15 s
    t = np.arange(1201) * SAMPLE_INTERVAL_S
    ramp = np.clip(t / 0.15, 0, 1)
    flow = 8.0 * ramp * np.exp(-np.maximum(t - 0.15, 0) / 0.45)
    vol = 1000 * np.concatenate([[0.0], np.cumsum(0.5 * (flow[1:] + flow[:-1]) * 0.01)])
    base = blow_metrics(vol)
    shifted = blow_metrics(np.concatenate([np.zeros(20), vol]))
    assert shifted["fev1"] == pytest.approx(base["fev1"], rel=0.02)
    assert shifted["t0"] == pytest.approx(base["t0"] + 0.2, abs=0.011)
    # naive timing from the first sample would read FEV1 far too low
    naive = np.concatenate([np.zeros(20), vol])[100] / 1000
    assert naive < 0.95 * shifted["fev1"]
    assert base["t0"] > 0.03  # time zero is after the start of the ramp


def test_best_blow_picks_largest_fev1_plus_fvc():
    blows = [_exponential_blow(3.5), _exponential_blow(4.0), _exponential_blow(4.0, tau=0.8)]
    assert best_blow(blows) == 1
    with pytest.raises(ValueError):
        best_blow([])


def test_flow_volume_grid():
    vol = np.concatenate([np.zeros(10), _exponential_blow(4.0, 0.5)])
    v, f = flow_volume(vol, n_points=128)
    assert v.shape == f.shape == (128,)
    assert v[0] == 0 and v[-1] == pytest.approx(4.0, rel=1e-3)
    assert np.all(np.diff(v) > 0) and np.all(f >= 0)
    # exponential emptying: flow = (FVC - V) / tau on the descending limb
    mid = (v > 1.0) & (v < 3.5)
    np.testing.assert_allclose(f[mid], (4.0 - v[mid]) / 0.5, rtol=0.03)


def test_latent_to_shape_directions():
    base = latent_to_shape(np.zeros(3), 55.0, 1, 176.0)
    assert 3.5 < base["fvc_l"] < 5.5 and 7.0 < base["pef_l_s"] < 11.0
    assert latent_to_shape(np.array([1.0, 0, 0]), 55.0, 1, 176.0)["k"] > base["k"]
    assert latent_to_shape(np.array([0, 1.0, 0]), 55.0, 1, 176.0)["pef_l_s"] > base["pef_l_s"]
    assert latent_to_shape(np.array([0, 0, 1.0]), 55.0, 1, 176.0)["fvc_l"] > base["fvc_l"]
    female = latent_to_shape(np.zeros(3), 55.0, 0, 163.0)
    assert female["fvc_l"] < base["fvc_l"]


def test_simulated_blow_is_physiological():
    shape = latent_to_shape(np.zeros(3), 55.0, 1, 176.0)
    vol = simulate_blow(shape, np.random.default_rng(1))
    assert vol[0] == 0 and np.all(np.diff(vol) >= 0)
    assert len(vol) * SAMPLE_INTERVAL_S <= 15.01
    m = blow_metrics(np.rint(vol))
    assert m["fvc"] == pytest.approx(shape["fvc_l"], rel=0.2)
    assert 0.6 < m["fev1_fvc"] < 0.95
    v, f = flow_volume(np.rint(vol))
    peak = int(np.argmax(f))
    assert 0.03 < v[peak] / v[-1] < 0.3  # early sharp peak
    assert f[-1] < 0.3 and f[peak] > 4.0


def test_knee_continues_the_limb_and_changes_its_concavity():
    shape = latent_to_shape(np.zeros(3), 55.0, 1, 176.0)
    plain = simulate_blow(shape, np.random.default_rng(3))
    # a knee that keeps the exponent is the same closed-form limb, split in two
    same = simulate_blow({**shape, "knee_at": 0.5, "k_low": shape["k"]}, np.random.default_rng(3))
    assert len(same) == len(plain)
    np.testing.assert_allclose(same, plain, atol=1.0)  # mL, rounding of the split time
    scooped = simulate_blow(
        {**shape, "knee_at": 0.5, "k_low": 2 * shape["k"]}, rng=np.random.default_rng(3)
    )
    v_plain, f_plain = flow_volume(np.rint(plain))
    v_scooped, f_scooped = flow_volume(np.rint(scooped))
    # below the knee the scooped limb's flow falls faster: lower flow at the same volume
    at = 0.75 * v_plain[-1]
    assert np.interp(at, v_scooped, f_scooped) < 0.6 * np.interp(at, v_plain, f_plain)
    assert v_scooped[-1] < v_plain[-1]  # and the blow ends sooner (flow < 25 mL/s)


def test_person_shape_is_independent_of_the_latent_traits():
    nuisance = ShapeNuisance()
    draws = [
        person_shape(latent_to_shape(np.array([z, 0, 0]), 55.0, 1, 176.0), np.random.default_rng(i))
        for i, z in enumerate(np.random.default_rng(0).normal(size=400))
    ]
    knee = np.array([d["knee_at"] for d in draws])
    ratio = np.log([d["k_low"] / d["k"] for d in draws])
    assert nuisance.knee_min <= knee.min() and knee.max() <= nuisance.knee_max
    assert abs(ratio.std() - nuisance.knee_log_sd) < 0.05
    zs = np.random.default_rng(0).normal(size=400)
    assert abs(np.corrcoef(zs, ratio)[0, 1]) < 0.15


def test_simulate_spirometry_markers_and_table(tmp_path):
    people = _people(300)
    out = tmp_path / "blows.tsv"
    markers = simulate_spirometry(people, out, max_blows=3, seed=11)
    assert list(markers.columns) == ["FID", "IID", "fev1", "fvc", "fev1_fvc", "pef"]
    assert markers["IID"].tolist() == people["IID"].tolist()
    rho = spearmanr(people["latent_0"], markers["fev1_fvc"]).statistic
    assert rho < -0.7
    assert 0.65 < markers["fev1_fvc"].mean() < 0.9
    assert spearmanr(people["latent_1"], markers["pef"]).statistic > 0.1
    assert spearmanr(people["latent_2"], markers["fvc"]).statistic > 0.1

    table = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["eid", "3066-0.0", "3066-0.1", "3066-0.2"]
    n_blows = (table[["3066-0.0", "3066-0.1", "3066-0.2"]] != "").sum(axis=1)
    assert n_blows.min() >= 1 and n_blows.max() == 3 and (n_blows == 3).mean() > 0.7

    # markers are measured from the stored curves
    blows = read_3066_table(out)
    iid = people["IID"].iloc[5]
    m = blow_metrics(blows[iid][best_blow(blows[iid])])
    row = markers.set_index("IID").loc[iid]
    assert row["fev1_fvc"] == pytest.approx(m["fev1_fvc"], abs=1e-4)
    assert row["fvc"] == pytest.approx(m["fvc"], abs=1e-4)


def test_simulate_spirometry_is_deterministic(tmp_path):
    people = _people(20, seed=3)
    a = simulate_spirometry(people, tmp_path / "a.tsv", max_blows=2, seed=5)
    b = simulate_spirometry(people, tmp_path / "b.tsv", max_blows=2, seed=5)
    simulate_spirometry(people, tmp_path / "c.tsv", max_blows=2, seed=6)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.tsv").read_bytes() != (tmp_path / "c.tsv").read_bytes()
    pd.testing.assert_frame_equal(a, b)
    table = pd.read_csv(tmp_path / "a.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert (table["3066-0.2"] == "").all()
    assert not (tmp_path / "a.tsv.tmp").exists()


def test_simulate_spirometry_rejects_bad_input(tmp_path):
    people = _people(3)
    with pytest.raises(ValueError, match="max_blows"):
        simulate_spirometry(people, tmp_path / "x.tsv", max_blows=4, seed=1)
    with pytest.raises(InputError, match="latent_2"):
        simulate_spirometry(people.drop(columns="latent_2"), tmp_path / "x.tsv", 3, 1)


def test_plot_flow_volume(tmp_path):
    from gemcont.simulate.spirometry import plot_flow_volume

    table = tmp_path / "blows.tsv"
    simulate_spirometry(_people(5), table, max_blows=3, seed=2)
    png = tmp_path / "fv.png"
    plot_flow_volume(table, png, n=5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
