"""Write notebooks/NN_*.ipynb from the cell lists below (the notebooks' source of truth).

python scripts/build_notebooks.py   # then commit notebooks/ ; run_all.sh executes them
Cells are short by design: every piece of logic is a call into ragrouter_lib.
A cell string starting with "md:" is markdown; the cell starting with "# parameters" is tagged
`parameters` for papermill.
"""
import pathlib

import nbformat

NB_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
PARAMS = '# parameters (papermill overrides these)\nprofile = "offline"\nseed = 0\nout_dir = "outputs"'
SETUP = "import ragrouter_lib as rr\ncfg = rr.setup(profile, seed, out_dir)"

NOTEBOOKS = {
    "01_routellm_evaluation.ipynb": [
        """md:# 01 · RouteLLM's evaluation protocol, reproduced with the Random and Oracle routers

This is the first experiment log of the series. It loads RouteLLM's own evaluation files (MMLU and
GSM8K; strong model = gpt-4-1106-preview, weak model = Mixtral-8x7B-Instruct), drops the rows RouteLLM
marks as contaminated, and checks our re-implementation of the metrics on the one router whose numbers
are known in advance: **Random** (CPT(50%) ≈ 50%, CPT(80%) ≈ 80%, APGR ≈ 0.50). Every later table is
computed by the same code (`ragrouter_lib.metrics`, `ragrouter_lib.experiments`).

**Protocol** (RouteLLM, Ong et al. 2024): strong-win scores are cut into 10 quantile bins; at each of the
11 edges a prompt goes to the strong model when its score is ≥ the edge (> at the last edge), giving
(percent strong calls, accuracy) points from 100% to 0%. With weak accuracy *w* and strong accuracy *s*:
CPT(x%) is the percent of strong calls needed to reach *w + x(s − w)* (linear interpolation on the curve),
and APGR = (AUC − *w*)/(*s* − *w*), AUC the trapezoid area of accuracy over the strong-call fraction.
Ties are broken by a seeded permutation. Random routing averages 10 seeded runs per point; the spread is
over 5 such seeds (3 in the smoke profile).""",
        PARAMS,
        SETUP,
        "md:## Evaluation rows, decontaminated\nExpected (RouteLLM): MMLU 14,037 of 14,042 rows, weak 68.09%, strong 80.59%; GSM8K 1,307 of 1,319, 63.73% / 85.77%.",
        'evals = {b: rr.data.load_eval(b, limit=cfg.eval_limit, seed=cfg.seed) for b in ("mmlu", "gsm8k")}\nrr.experiments.eval_summary(evals)',
        "rr.experiments.check_eval_rows(evals)  # stops the run if counts or accuracies differ",
        "md:## Random and Oracle routers\nOne row per router and benchmark: mean over seeds, with the standard deviation (`*_sd`).",
        "table, per_seed, curves = rr.experiments.random_and_oracle(evals, cfg.seeds, cfg.n_random_runs)\ntable.round(3)",
        "md:Random, seed by seed (each value is itself the curve averaged over 10 seeded runs):",
        'per_seed.pivot(index="seed", columns="benchmark", values=["cpt50", "cpt80", "apgr"]).round(3)',
        "md:## Routing curves in RouteLLM's style",
        """import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (bench, ev) in zip(axes, evals.items()):
    rr.plots.routing_curves(curves[bench], *rr.experiments.accuracies(ev), title=bench.upper(), ax=ax)
rr.plots.save(fig, cfg.path("figures", "01_random_oracle_curves.png"))""",
        "md:## Beside RouteLLM's published Random rows",
        """published = rr.data.load_reference("routellm_paper_tables").query("router == 'Random'")
ours = table.query("model == 'Random'").rename(columns={"model": "router"})
rr.experiments.compare_with_published(ours, published, on=["benchmark", "router"]).round(3)""",
        'rr.experiments.save_tables(cfg, **{"01_random_oracle": table, "01_random_per_seed": per_seed})',
        """md:## Reading the log
- The decontaminated row counts and both models' accuracies match RouteLLM's exactly (the check above stops
  the run otherwise).
- Random lands on CPT(50%) ≈ 50%, CPT(80%) ≈ 80%, APGR ≈ 0.50 on both benchmarks, as RouteLLM reports; the
  seed-to-seed spread is larger on GSM8K (1,307 rows) than on MMLU (14,037 rows).
- The Oracle's APGR exceeds 1: routing only the prompts that the weak model gets wrong and the strong one
  right beats always calling the strong model, because the strong model is also wrong on some prompts the
  weak one answers correctly.""",
    ],
}


def build(name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ragrouter", "display_name": "RAGRouter (.venv)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for src in cells:
        if src.startswith("md:"):
            nb.cells.append(nbformat.v4.new_markdown_cell(src[3:]))
        else:
            cell = nbformat.v4.new_code_cell(src)
            if src.startswith("# parameters"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:02d}"
    nbformat.write(nb, NB_DIR / name)


if __name__ == "__main__":
    NB_DIR.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        build(name, cells)
        print("wrote", NB_DIR / name)
