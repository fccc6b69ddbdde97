"""Minibatch couplings against math (METHODS.md §6, §10 items 13-16): exact OT equals POT's exact
cost, Sinkhorn's plan is doubly stochastic and approaches exact OT as reg shrinks, stable matching
is textbook Gale-Shapley, marginals are kept, pairing within classes never crosses them, and every
failure path stops with a reason instead of falling back in silence."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import ot
import pytest
import torch

import specc.components.coupling
import specc.plan
from specc.components import unit_traits
from specc.pipeline import check_spec

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


@pytest.fixture(scope="module")
def exact(build_module):
    return build_module(SPECS / "couple_exact_ot.yaml")


@pytest.fixture(scope="module")
def sink(build_module):
    return build_module(SPECS / "couple_sinkhorn.yaml")


@pytest.fixture(scope="module")
def stable(build_module):
    return build_module(SPECS / "couple_stable.yaml")


def with_coupling(monkeypatch, module, **options) -> None:
    """Run `module` with other coupling options (its CONFIG is read at call time)."""
    coupling = SimpleNamespace(**{**vars(module.CONFIG.coupling), **options})
    monkeypatch.setattr(
        module, "CONFIG", SimpleNamespace(**{**vars(module.CONFIG), "coupling": coupling})
    )


def points(k: int, d: int, seed: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Structured data (two shifted tanh-Gaussian clusters) and Gaussian noise."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.where(torch.rand(k, 1, generator=g) < 0.5, -2.0, 2.0)
    x = torch.tanh(torch.randn(k, d, generator=g, dtype=dtype)) + centres.to(dtype)
    return x, torch.randn(k, d, generator=g, dtype=dtype)


def mean_cost(x: torch.Tensor, eps: torch.Tensor) -> float:
    return float((x - eps).square().sum(dim=1).mean())


def emd_cost(x: torch.Tensor, eps: torch.Tensor) -> float:
    """POT's exact OT cost between the uniform point sets: min over plans of <P, C>."""
    a, b = x.numpy(), eps.numpy()
    w = np.full(len(a), 1.0 / len(a))
    return float(ot.emd2(w, w, ot.dist(a, b, metric="sqeuclidean"), numItermax=10_000_000))


def rows_of(a: torch.Tensor, b: torch.Tensor) -> list[int]:
    """For each row of a, the index of the equal row of b (b's rows are distinct)."""
    return [int((b == row).all(dim=1).nonzero()[0]) for row in a]


@pytest.mark.parametrize("k,d", [(1, 2), (2, 2), (7, 3), (64, 2), (200, 16)])
def test_exact_ot_is_a_permutation_with_pots_exact_cost(exact, k, d):
    x, eps = points(k, d, seed=k + d)
    xc, ec, yc = exact.couple(x, eps, None)
    assert yc is None and torch.equal(xc, x)  # every data point once, in place
    assert sorted(rows_of(ec, eps)) == list(range(k))  # every noise once: a permutation
    assert mean_cost(xc, ec) == pytest.approx(emd_cost(x, eps), rel=1e-12, abs=1e-12)
    assert mean_cost(xc, ec) <= mean_cost(x, eps) + 1e-12


def test_exact_ot_with_the_pot_solver_equals_scipys(build_module):
    pot = build_module(SPECS / "couple_exact_ot.yaml", "coupling.solver=pot")
    scipy = build_module(SPECS / "couple_exact_ot.yaml", "coupling.solver=scipy")
    for k, d in ((1, 2), (9, 2), (300, 2), (64, 40)):
        x, eps = points(k, d, seed=k)
        cost = pot.pairing_cost(x, eps)
        for module in (pot, scipy):
            rows, cols = module.solve_assignment(cost)
            assert rows.tolist() == list(range(k)) and sorted(cols.tolist()) == list(range(k))
        assert float(cost[pot.solve_assignment(cost)].sum()) == pytest.approx(
            float(cost[scipy.solve_assignment(cost)].sum()), rel=1e-12, abs=1e-12
        )


def test_solver_auto_is_pot_from_batch_128(build_module):
    """The default solver is concrete in the script: POT from batch 128 on, SciPy below."""
    import inspect

    from specc.components import unit_traits

    for batch, solver in ((64, "scipy"), (127, "scipy"), (128, "pot"), (1024, "pot")):
        m = build_module(SPECS / "couple_exact_ot.yaml", f"train.batch_size={batch}")
        assert m.SPEC["coupling"]["solver"] == "auto"
        assert unit_traits(m.SPEC)["coupling"]["solver"] == solver
        assert ("ot.emd(" in inspect.getsource(m.solve_assignment)) == (solver == "pot")


def test_exact_ot_in_float32_is_optimal_to_float32_precision(exact):
    x, eps = points(128, 8, seed=3, dtype=torch.float32)
    xc, ec, _ = exact.couple(x, eps, None)
    assert mean_cost(xc.double(), ec.double()) == pytest.approx(
        emd_cost(x.double(), eps.double()), rel=1e-5
    )


def gale_shapley(cost: list[list[float]]) -> list[int]:
    """Textbook Gale-Shapley, data points proposing; both sides rank by increasing cost."""
    k = len(cost)
    prefs = [sorted(range(k), key=lambda j: cost[i][j]) for i in range(k)]
    next_choice, partner_of_eps = [0] * k, [-1] * k
    free = list(range(k))
    while free:
        i = free.pop()
        j = prefs[i][next_choice[i]]
        next_choice[i] += 1
        if partner_of_eps[j] < 0:
            partner_of_eps[j] = i
        elif cost[i][j] < cost[partner_of_eps[j]][j]:
            free.append(partner_of_eps[j])
            partner_of_eps[j] = i
        else:
            free.append(i)
    perm = [0] * k
    for j, i in enumerate(partner_of_eps):
        perm[i] = j
    return perm


@pytest.mark.parametrize("k,seed", [(1, 0), (5, 1), (40, 2), (150, 3)])
def test_stable_equals_gale_shapley_and_has_no_blocking_pair(stable, k, seed):
    x, eps = points(k, 2, seed)
    cost = stable.pairing_cost(x, eps)
    perm = stable.stable_matching(cost).tolist()
    assert perm == gale_shapley(cost.tolist())
    c = cost.numpy()
    mine = c[np.arange(k), perm]  # each x's cost with its partner
    theirs = np.empty(k)
    theirs[perm] = mine  # each eps's cost with its partner
    blocking = (c < mine[:, None]) & (c < theirs[None, :])
    assert not blocking.any()
    xc, ec, _ = stable.couple(x, eps, None)
    assert torch.equal(xc, x) and torch.equal(ec, eps[perm])
    assert mean_cost(xc, ec) >= emd_cost(x, eps) - 1e-12


def test_sinkhorn_plan_is_doubly_stochastic_and_approaches_exact_ot(sink, monkeypatch):
    x, eps = points(96, 8, seed=5)
    cost = sink.pairing_cost(x, eps)
    optimum = emd_cost(x, eps)
    independent = float(cost.mean())
    gaps = []
    for reg in (0.5, 0.2, 0.05, 0.03):
        with_coupling(monkeypatch, sink, reg=reg, tol=1e-4, max_iter=5000)
        log_plan, iterations, err = sink.sinkhorn_log_plan(cost)
        plan = log_plan.exp()
        assert err < 1e-4 and iterations >= 1
        assert sink.plan_problem(plan, 1e-4) is None
        ones = torch.ones(96, dtype=plan.dtype)
        torch.testing.assert_close(96 * plan.sum(dim=0), ones, atol=1e-12, rtol=0)  # exact
        torch.testing.assert_close(96 * plan.sum(dim=1), ones, atol=1e-4, rtol=0)  # to tol
        gaps.append(float((plan * cost).sum()) - optimum)
    assert all(gap > -1e-9 for gap in gaps)  # no plan beats exact OT
    assert gaps == sorted(gaps, reverse=True)  # closer as reg shrinks
    assert gaps[0] > 0.2 * (independent - optimum)  # reg 0.5: far from OT ...
    assert gaps[-1] < 0.015 * (independent - optimum)  # ... reg 0.03: within 1.5% of it


def test_sinkhorn_row_pairing_uses_every_x_and_keeps_the_noise_marginal(sink):
    """Every x once per batch; the chosen noises, pooled over batches of strongly structured data,
    are N(0, I) (mean, covariance and a Kolmogorov-Smirnov test per coordinate)."""
    from scipy import stats

    chosen = []
    for seed in range(80):
        x, eps = points(64, 2, seed)
        g = torch.Generator().manual_seed(seed)
        xc, ec, _ = sink.couple(x, eps, None, g)
        assert torch.equal(xc, x)
        chosen.append(ec)
    pooled = torch.cat(chosen)  # 5120 noises
    n = pooled.shape[0]
    assert pooled.mean(dim=0).abs().max() < 4 / math.sqrt(n)
    torch.testing.assert_close(
        torch.cov(pooled.T), torch.eye(2, dtype=pooled.dtype), atol=0.06, rtol=0
    )
    for coordinate in range(2):
        assert stats.kstest(pooled[:, coordinate].numpy(), "norm").pvalue > 1e-3
    # the exact probability that each noise is drawn: (1/k) sum_i P_ij / (row sum i) = 1/k to tol
    x, eps = points(64, 2, seed=0)
    plan = sink.sinkhorn_log_plan(sink.pairing_cost(x, eps))[0].exp()
    drawn = (plan / plan.sum(dim=1, keepdim=True)).mean(dim=0)
    assert float((64 * drawn - 1).abs().max()) <= sink.CONFIG.coupling.tol * 1.01


def test_sinkhorn_sample_pairing_draws_pairs_from_the_plan(build_module, monkeypatch):
    """pairing sample: k pairs from the whole plan with replacement; over many draws each pair's
    frequency is its plan mass, so both marginals are uniform (the lemma's construction)."""
    module = build_module(SPECS / "couple_sinkhorn.yaml", "coupling.pairing=sample")
    x, eps = points(16, 2, seed=1)
    cost = module.pairing_cost(x, eps)
    solved = module.sinkhorn_log_plan(cost)
    plan = solved[0].exp()
    monkeypatch.setattr(module, "sinkhorn_log_plan", lambda c: solved)  # solve once, draw often
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(16, 16, dtype=torch.float64)
    draws = 1500
    for _ in range(draws):
        rows, cols = module.pair_indices(cost, g)
        counts.index_put_((rows, cols), torch.ones(16, dtype=torch.float64), accumulate=True)
    assert len(set(rows.tolist())) < 16  # with replacement: some x repeat, some are left out
    frequency = counts / (16 * draws)
    # 24000 pairs: a cell of mass p has standard error sqrt(p (1 - p)/24000) <= 0.0033
    assert float((frequency - plan).abs().max()) < 0.012


@pytest.mark.parametrize("name", ["exact", "sink", "stable"])
def test_non_finite_data_stops_every_solver(request, name):
    module = request.getfixturevalue(name)
    x, eps = points(16, 2, seed=0)
    x[3, 1] = float("nan")
    with pytest.raises(SystemExit, match="NaN or inf"):
        module.couple(x, eps, None)


def test_sinkhorn_failure_raises_and_never_yields_the_uniform_plan(sink, monkeypatch):
    x, eps = points(64, 32, seed=2)
    cost = sink.pairing_cost(x, eps)
    # not converged: a tiny reg and one iteration
    with_coupling(monkeypatch, sink, reg=1e-3, max_iter=1)
    with pytest.raises(SystemExit, match=r"1 iterations.*not doubly stochastic.*on_failure"):
        sink.pair_indices(cost, torch.Generator().manual_seed(0))
    # injected all-zero (underflowed) and non-finite plans are refused, never made uniform
    k = 64
    assert "not doubly stochastic" in sink.plan_problem(torch.zeros(k, k), 1e-3)
    assert "NaN or inf" in sink.plan_problem(torch.full((k, k), float("nan")), 1e-3)
    assert "negative" in sink.plan_problem(-torch.full((k, k), 1 / k**2), 1e-3)
    assert sink.plan_problem(torch.full((k, k), 1 / k**2), 1e-3) is None
    monkeypatch.undo()
    for bad in (float("-inf"), float("nan")):
        monkeypatch.setattr(
            sink, "sinkhorn_log_plan", lambda c, v=bad: (torch.full_like(c, v), 7, 1.0)
        )
        with pytest.raises(SystemExit, match="coupling sinkhorn"):
            sink.pair_indices(cost, torch.Generator().manual_seed(0))


def test_sinkhorn_on_failure_exact_ot_warns_and_uses_the_exact_permutation(build_module, capsys):
    module = build_module(
        SPECS / "couple_sinkhorn.yaml",
        "coupling.on_failure=exact_ot",
        "coupling.reg=1e-3",
        "coupling.max_iter=1",
    )
    x, eps = points(48, 4, seed=4)
    xc, ec, _ = module.couple(x, eps, None, torch.Generator().manual_seed(0))
    err = capsys.readouterr().err
    assert "warning: coupling sinkhorn" in err and "uses the exact OT permutation" in err
    assert torch.equal(xc, x) and sorted(rows_of(ec, eps)) == list(range(48))
    assert mean_cost(xc, ec) == pytest.approx(emd_cost(x, eps), rel=1e-12)


def test_resample_torchcfm_keeps_one_minus_one_over_e_distinct_pairs(build_module, monkeypatch):
    """METHODS §10 item 14: drawing k pairs with replacement from a permutation plan keeps
    1 - (1 - 1/k)^k of them distinct in expectation (0.634, 0.633, 0.632 at k = 128, 256, 1024)."""
    module = build_module(SPECS / "couple_exact_ot.yaml", "coupling.pairing=resample_torchcfm")
    expected = {128: 0.634, 256: 0.633, 1024: 0.632}
    for k, rounded in expected.items():
        exact_fraction = 1 - (1 - 1 / k) ** k
        assert round(exact_fraction, 3) == rounded
        perm = torch.randperm(k, generator=torch.Generator().manual_seed(k))
        rows = torch.arange(k)
        monkeypatch.setattr(module, "solve_assignment", lambda cost, p=perm, r=rows: (r, p))
        g = torch.Generator().manual_seed(0)
        fractions = []
        for _ in range(40):
            rows, cols = module.pair_indices(torch.zeros(k, k), g)
            assert torch.equal(cols, perm[rows])  # every drawn pair is an optimal pair
            fractions.append(len(set(rows.tolist())) / k)
        # std of one fraction ~ sqrt(e^-1 (1 - 2 e^-1) / k); 40 draws: < 0.0045 at k = 128
        assert sum(fractions) / len(fractions) == pytest.approx(exact_fraction, abs=0.015)


@pytest.fixture(scope="module")
def labelled(build_module):
    """couple_exact_ot built as if the toy model were class-conditional: condition auto becomes
    within_class (the couplings only see flattened points, so toy points serve). Only the
    coupling's derived condition is patched, by its own rule applied to a class-conditional model;
    the rest of the script stays unconditional."""
    traits_of = specc.plan.unit_traits

    def conditional_coupling(spec, units=None):
        traits = traits_of(spec, units)
        as_conditional = {**spec, "model": {**spec["model"], "num_classes": 10}}
        condition = specc.components.coupling.minibatch(as_conditional)["condition"]
        traits["coupling"] = {**traits["coupling"], "condition": condition}
        return traits

    mp = pytest.MonkeyPatch()
    mp.setattr(specc.plan, "unit_traits", conditional_coupling)
    try:  # the patch is needed only while building
        modules = {
            "exact_ot": build_module(SPECS / "couple_exact_ot.yaml"),
            "sinkhorn": build_module(SPECS / "couple_sinkhorn.yaml"),
        }
    finally:
        mp.undo()
    return modules


@pytest.mark.parametrize("kind", ["exact_ot", "sinkhorn"])
def test_within_class_never_crosses_classes_and_keeps_each_class(labelled, kind):
    module = labelled[kind]
    assert "within_class" in module.couple.__doc__
    x, eps = points(90, 3, seed=8)
    y = torch.tensor([0] * 40 + [2] * 49 + [5])  # a class of one is its own block
    y = y[torch.randperm(90, generator=torch.Generator().manual_seed(1))]
    extra = (torch.Generator().manual_seed(0),) if kind == "sinkhorn" else ()
    xc, ec, yc = module.couple(x, eps, y, *extra)
    x_home, eps_home = rows_of(xc, x), rows_of(ec, eps)
    assert all(int(y[i]) == int(c) for i, c in zip(x_home, yc, strict=True))
    assert all(int(y[j]) == int(c) for j, c in zip(eps_home, yc, strict=True))  # no crossing
    assert sorted(x_home) == list(range(90))
    if kind == "exact_ot":  # a permutation per class, optimal within it
        assert sorted(eps_home) == list(range(90))
        for label in (0, 2, 5):
            block = yc == label
            members = y == label
            assert mean_cost(xc[block], ec[block]) == pytest.approx(
                emd_cost(x[members], eps[members]), rel=1e-12, abs=1e-12
            )
    with pytest.raises(SystemExit, match="within_class needs class labels"):
        module.couple(x, eps, None)


def test_coupled_batch_is_a_pure_function_of_the_step(sink):
    rt = sink.Runtime(0, 1, torch.device("cpu"), 0)
    a = sink.coupled_batch(rt, 7, 64)
    b = sink.coupled_batch(rt, 7, 64)
    assert all(v.device.type == "cpu" for v in a[:2])  # the train loop moves them to the device
    assert all(torch.equal(p, q) for p, q in zip(a[:2], b[:2], strict=True))
    c = sink.coupled_batch(rt._replace(rank=1), 7, 64)
    assert not torch.equal(a[0], c[0])  # each rank draws and couples its own batch


def test_the_data_workers_give_every_step_its_own_batch_in_order(exact, monkeypatch):
    """batches(): 1, 2 or auto (one per spare core, at least 1) worker processes, each taking
    every n-th step, or none (prefetch 0) yield, in step order, exactly coupled_batch of each
    step: the run does not depend on them."""
    rt = exact.Runtime(0, 1, torch.device("cpu"), 0)
    want = [exact.coupled_batch(rt, step, 32) for step in range(5, 12)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    auto = max(1, min(8, cores - 1))
    for workers, prefetch, processes in ((1, 2, 1), (2, 1, 2), (0, 2, auto), (2, 0, 0)):
        train = SimpleNamespace(**{**vars(exact.CONFIG.train), "data_workers": workers})
        train.prefetch = prefetch
        monkeypatch.setattr(
            exact, "CONFIG", SimpleNamespace(**{**vars(exact.CONFIG), "train": train})
        )
        loader = exact.batches(rt, 32, 5, 12)
        assert loader.num_workers == processes
        got = [[torch.as_tensor(v) for v in batch[:2]] for batch in loader]
        assert len(got) == len(want)
        for (x, eps), (x_ref, eps_ref, _) in zip(got, want, strict=True):
            assert torch.equal(x, x_ref) and torch.equal(eps, eps_ref)


def resolved(tmp_path: Path, text: str) -> dict:
    """The resolved spec of a YAML text (valid against the schema; the checks may still object)."""
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    result = check_spec(path)
    assert result.resolved is not None, [d.format() for d in result.diagnostics]
    return result.resolved.data


def test_labelled_condition_checks(tmp_path):
    def findings(spec, check=specc.components.coupling.check_condition):
        return list(check(spec, unit_traits(spec)))

    digits = "version: 1\ndata: {kind: digits}\n"
    spec = resolved(
        tmp_path,
        digits + "model: {kind: unet, num_classes: 10}\n"
        "coupling: {kind: exact_ot, condition: ignore}\n",
    )
    [(path, message, severity)] = findings(spec)
    assert path == ("coupling", "condition") and severity == "warning" and "N(0, I)" in message
    spec = resolved(
        tmp_path, digits + "model: {kind: unet, num_classes: 10}\ncoupling: {kind: exact_ot}\n"
    )
    assert spec["coupling"]["condition"] == "auto"
    assert unit_traits(spec)["coupling"]["condition"] == "within_class"
    assert findings(spec) == []
    # unconditional: no reason to pair within classes
    spec = resolved(tmp_path, digits + "model: {kind: unet}\ncoupling: {kind: exact_ot}\n")
    assert unit_traits(spec)["coupling"]["condition"] == "ignore"
    spec = resolved(
        tmp_path,
        "version: 1\ndata: {kind: toy2d, distribution: moons}\nmodel: {kind: mlp}\n"
        "coupling: {kind: exact_ot, condition: within_class}\n",
    )
    [(path, message, severity)] = findings(spec)
    assert severity == "error" and "has no labels" in message
    # reflow's pairs carry no labels: a class-conditional student is warned, an unconditional not
    reflow = "coupling: {kind: reflow, pairs: pairs.pt, teacher: t}\n"
    spec = resolved(tmp_path, digits + "model: {kind: unet, num_classes: 10}\n" + reflow)
    [(path, message, severity)] = findings(spec, specc.components.coupling.check_reflow)
    assert path == ("coupling", "kind") and severity == "warning" and "labels" in message
    spec = resolved(tmp_path, digits + "model: {kind: unet}\n" + reflow)
    assert findings(spec, specc.components.coupling.check_reflow) == []
