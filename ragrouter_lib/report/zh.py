"""Chinese prose: the README's 中文摘要 and each notebook's Chinese conclusion (``conclusion_zh(n, out_dir)``).

Thesis step: the report of Tables 1-6 and notebooks 01-07, for a reader of Chinese. One home for the Chinese
terms: the thesis's own names of the four parts (``PARTS_ZH``, by table), router and stage names, and the
deviations from the thesis (``DEVIATIONS_ZH``, keyed by the "what" column of README's "Deviations from the
thesis" table; ``NB_DEVIATIONS``: the ones each notebook carries). Every number comes from outputs/results/*.csv
or the thesis's tables (data/raw/reference); every comparison word is the verdict tables' word
(``bootstrap.WORDS_ZH``), written only from an interval that excludes zero; "inconclusive" reads 不能下结论,
with the reason (the interval contains zero). Deviations: none of its own (it reports those of the others).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..evaluation.bootstrap import INCONCLUSIVE, METRIC_NAMES, RULE_ZH, WORDS, WORDS_ZH
from .prose import (
    BENCH,
    BENCH_LABEL,
    OURS,
    ablation_rows,
    expectation_state,
    fmt_num,
    ours_row,
    read_table,
    tables_from_last_run,
    thesis_rows,
    thesis_value,
)
from .results import RESULTS

ZH_START, ZH_END = "<!-- zh:start -->", "<!-- zh:end -->"
EXPECTATION_ZH = {"met": "成立", "not met": "不成立", "not shown": "尚无定论（有区间包含零）"}
STALE_ZH = "注意：表 1–6 来自比最近一次运行更早的一次运行（见 README 中记录运行状态与时间的一节），尚未反映当前代码的训练池、模型选择协议与 RAGRouter。"

# One home for the Chinese terms: the thesis's own names of the four parts (by table), router and stage names,
# and the deviations from the thesis keyed by the "what" column of README's "Deviations from the thesis" table
# (tests/test_chinese.py matches the two item for item, and each notebook's list against its English cells).
PARTS_ZH = {3: "多源数据融合的数据增强", 4: "基于困惑度的动态采样", 5: "语义句法特征提取（跨模态多头注意力）", 6: "RAG 向量知识库"}
NAMES_ZH = {  # the pieces of a router's display name (routers.THESIS_NAMES, EXTRA_NAMES, RELEASED_NAMES)
    "retrained": "重新训练", "retrained on our pool": "在本训练池上重新训练", "aligned": "加标签对齐",
    "SmolLM2-135M features": "SmolLM2-135M 特征", "semantic router": "语义路由器", "reference": "参考行",
    "CPU stand-in: MiniLM + spaCy": "CPU 替代实现：MiniLM + spaCy", "attention network": "注意力网络",
    "LogReg on MiniLM": "MiniLM 嵌入上的逻辑回归", "Token-length rule": "按提示长度（词元数）路由的规则",
    "RouteLLM released checkpoint": "RouteLLM 官方权重", "LLM final model": "LLM 最终模型", "subsample": "子样本",
    "RAGRouter, LLM final model at CPU scale": "RAGRouter 的 LLM 最终模型（CPU 规模）"}
STAGES_ZH = {"original (train split)": "原始训练行（训练划分）", "augmented rows": "数据增强生成的新行",
             "original + augmented": "原始行与增强行合计", "final training set": "动态采样后的最终训练集",
             "validation": "验证行（不做增强与采样）"}
PANELS_ZH = {"routerbench": "RouterBench", "routerdc": "RouterDC", "arena": "Chatbot Arena"}
DEVIATIONS_ZH = {  # README "Deviations from the thesis", row by row ({pool}: the pool size from 02_pool_card.csv)
    "evaluation": "评测代码：用本项目自己的指标代码（协议与 RouteLLM 相同），而不是 RouteLLM 的 `evaluate.py`，因为后者在输出 APGR 之前就会崩溃。",
    "Random router": "Random 路由器：RouteLLM 每个点取 10 次运行的平均；这里每个路由器种子是一次带种子的均匀分数抽取（离线 5 个种子），表中给出各种子的平均值和离散度。原因是只算一次：同一组抽取同时给出笔记本 01 的行、表 1–2 的 Random 行及其区间。",
    "training data": "训练数据：离线可得的 RouterBench 与 RouterDC 样本（{pool} 条，去掉了各来源共享的少样本示例前言），而不是 Chatbot Arena 55k 与 `gpt4_dataset`（约十二万条），因为本环境无法访问 Hugging Face Hub。AlpacaEval 2 与 MMLU-Pro 两个来源可以打开，默认都关闭。notebook 02 的来源选择表按行加权的留一来源 AUC 把“打开 MMLU-Pro”排在第一，按简单平均却排在“都不打开”之后，且没有噪声估计；由于它的 5222 行会增加冷启动运行中每次 SmolLM2 计算的时间，最终没有打开。这是一个违背字面准则的选择，有了噪声估计后应重新评估。",
    "label alignment across sources (our extension)": "跨来源的标签对齐（本项目的扩展）：一个独立的流程步骤（不对齐、按来源重新平衡或来源固定效应），由分组准则选择；表 1–2 中的基线保持 RouteLLM 的做法，另有加标签对齐的额外行。原因：训练池中各来源的标签基础比例相差约二十倍。",
    "labels (judge)": "标签：由记录的 0/1 正确性换算为 1–5 分（RouterDC 的行用开源模型组的解题率），而不是由 GPT-4 或 DeepSeek-671B 评审打分，因为离线没有评审用的大模型。",
    "baselines": "基线：RouteLLM 的各架构在离线训练池上重新训练，而不是加载 RouteLLM 发布的官方权重（权重在 Hub 上；`paper` 配置会加载它们）。",
    "SW ranking, MF embeddings": "SW Ranking 与 Matrix Factorization 的句向量：MiniLM-L6（384 维），而不是 OpenAI 的 `text-embedding-3-small`（离线不可用）。",
    "BERT router": "BERT 路由器：MiniLM-L6，只微调最上层与分类头，而不是全量微调 BERT-base（CPU 预算）。",
    "Causal-LLM router": "Causal LLM 路由器：在 SmolLM2-135M 第 16/30 层的隐藏状态上训练一个 5 类分类头（提示最多 48 个词元，较长的提示保留开头与结尾），而不是微调 Llama-3-8B（CPU 预算）。",
    "augmentation parser": "数据增强用的句法解析器：spaCy 的 `en_core_web_sm`，而不是 Stanza（离线无法获得 Stanza 模型）。",
    "knowledge graph": "知识图谱：WordNet（Debian 的 `wordnet-base`，词义由受限的 Lesk 算法选择），而不是 ConceptNet（离线不可用）；WordNet 是真实的词汇图（同义词、上位词）。",
    "augmented labels": "增强行的标签：直接继承其来源行的标签，而不是由大模型重新评审强、弱模型的回答（离线没有评审模型）。",
    "augmentation scale": "增强规模：只对训练划分中的高质量来源行做增强，行数增加约 30%，而不是论文中约五万个来源、从十七万五千条扩充到二十二万五千条（受训练池规模所限）。",
    "perplexity model": "困惑度模型：SmolLM2-135M（只看前 48 个词元），而不是 GPT-2-large（离线无法获得 GPT-2 权重）。",
    "H_sem encoder": "语义编码器（H_sem）：MiniLM-L6 的词片状态（384 维，6 层中的第 5 层），而不是 DeBERTa-v3-base（768 维）。原因是 CPU 预算：notebook 05 在本机测量了 MPNet 与 MiniLM 的编码成本（没有测量 DeBERTa）。",
    "RAGRouter final model": "RAGRouter 的最终模型：一个用 Adam 训练的小型注意力网络，读取查询向量、查询句法解析的结构特征（词元数、解析深度、从句数、句子数、数字与运算符个数、字符数；本项目的扩展）以及 K 个检索近邻的向量、对齐后的标签与距离，而不是在文本形式的增强提示上全量微调 Qwen-7B（CPU 预算）。Qwen + LoRA/QLoRA 的路径是 `paper` 配置中的 `ragrouter_llm`。",
    "KB / final-model split": "知识库与最终模型的数据划分：交叉拟合（按来源行分折，一行与它的增强变体在同一折；每一行都用于训练特征提取器与最终模型；训练时一行的近邻只来自其他折；评分时知识库包含全部训练行），而不是论文的约 70% 的行进知识库、约 30% 的行训练最终模型。原因：70/30 划分让最终模型训练行的增强副本留在知识库里，最终模型于是学会抄写自己的标签。",
    "perplexity levels": "困惑度难度等级：在每个来源内部按排名分成四等分，方向由该来源内测得的相关符号决定，而不是对 GPT-2 困惑度整体分四等分；原因是整体困惑度主要反映一行来自哪个来源。",
    "tuning and selection": "调参与模型选择（论文未说明）：所有路由器用同一协议（`routers/selection.py`）：相同数量的配置（离线配置中每个路由器 1 个，CPU 预算），在种子 0 的按来源分组的 3 折上（整个来源留出，按行加权的来源内 ROC-AUC）选择标签对齐方式与训练轮数；每个种子的最终模型在全部训练行上重新训练；共 5 个种子。原因：评测集是路由器从未见过的来源，随机划分会奖励识别提示来源的能力。",
    "ablations (Tables 3–6)": "消融（表 3–6；论文未说明是否重新调参）：每个变体沿用完整模型的配置与标签对齐方式（不重新调参），只在同样的折上重新选择训练轮数；使用全部 5 个种子（`ablation_seeds`），与完整模型的相同种子配对；APGR 旁给出分组准则；表 5 的变体直接读取普通句向量（没有跨模态多头注意力、GraphSAGE 和结构特征）。原因：这样差值只来自开关本身（及其停止点）。",
    "augmentation draws": "数据增强的随机抽取：所有路由器种子共用一次抽取；每行的变体只取决于该行本身，因此选择用的各折复用整个训练池的变体。原因是 CPU 预算（增强与新行的困惑度只计算一次）；因此种子间的波动不包含数据增强本身的随机性。",
    "SmolLM2 passes": "SmolLM2 的前向计算：作为派生数据提交（`data/derived`，由 `scripts/build_derived.py` 生成），各条路径上的隐藏状态都以 `float16` 存储。原因是 CPU 预算；有测试抽样重新计算并核对。",
}
NB_DEVIATIONS = {  # the deviations each notebook's conclusion repeats (tests/test_chinese.py checks them against the notebook)
    1: ["evaluation", "Random router"],
    2: ["training data", "labels (judge)"],
    3: ["training data", "labels (judge)", "baselines", "SW ranking, MF embeddings", "BERT router", "Causal-LLM router",
        "label alignment across sources (our extension)", "tuning and selection", "SmolLM2 passes"],
    4: ["training data", "labels (judge)", "augmented labels", "augmentation parser", "knowledge graph", "augmentation scale",
        "perplexity model", "perplexity levels", "augmentation draws", "tuning and selection", "SmolLM2 passes"],
    5: ["KB / final-model split", "RAGRouter final model", "H_sem encoder", "augmentation parser",
        "label alignment across sources (our extension)", "tuning and selection", "labels (judge)", "augmentation scale"],
    6: ["RAGRouter final model", "H_sem encoder", "augmentation parser", "knowledge graph", "KB / final-model split",
        "training data", "labels (judge)", "tuning and selection", "baselines", "SW ranking, MF embeddings", "BERT router",
        "Causal-LLM router"],
    7: ["RAGRouter final model", "H_sem encoder", "augmentation parser", "knowledge graph", "KB / final-model split",
        "training data", "labels (judge)", "tuning and selection", "ablations (Tables 3–6)"],
}


def name_zh(name: str) -> str:
    """A router's display name in Chinese: "Base (a, b)" -> "Base（a，b）", each piece from NAMES_ZH."""
    base, _, rest = str(name).partition(" (")
    parts = [NAMES_ZH.get(q, q) for q in rest.removesuffix(")").split(", ")] if rest else []
    return NAMES_ZH.get(base, base) + (f"（{'，'.join(parts)}）" if parts else "")


def deviations_zh(keys=None, pool="若干") -> list[str]:
    """The numbered Chinese deviation list (all of README's rows, or ``keys``)."""
    return [f"{i}. {DEVIATIONS_ZH[k].format(pool=pool)}" for i, k in enumerate(keys or DEVIATIONS_ZH, 1)]


def verdict_zh(d: pd.Series) -> str:
    """One row of a verdict table in Chinese: the rule's word (``bootstrap.WORDS_ZH``) with its interval;
    "inconclusive" reads 不能下结论, with the reason (the interval contains zero)."""
    ci = (f"差值 {fmt_num(d['diff'], d.metric, True)}，95% 区间 [{fmt_num(d.ci_low, d.metric, True)}, "
          f"{fmt_num(d.ci_high, d.metric, True)}]")
    if d.verdict == INCONCLUSIVE:
        return f"不能下结论（{ci}，包含零）"
    word = WORDS_ZH.get(d.verdict, "无数据")
    return f"{word[:-1]}；{ci}，不包含零）" if word.endswith("）") else f"{word}（{ci}，不包含零）"


def _by_verdict(ver: pd.DataFrame, metric: str, col: str) -> dict[str, list[str]]:
    """{verdict: [Chinese names in ``col``]}: Tables 1-2 name the other row (model_b), notebook 03 the row (model_a)."""
    g = ver[ver.metric == metric]
    out: dict[str, list[str]] = {}
    for _, r in g.iterrows():
        out.setdefault(r.verdict, []).append(name_zh(r[col]))
    return out


def _zh_groups(ver: pd.DataFrame, metric: str, subject: str, other: str = "") -> str:
    """'<subject> 优于 A、B；劣于 C；与 D 相比不能下结论（区间包含零）' (Tables 1-2: subject RAGRouter; notebook 03:
    the rows, against ``other``)."""
    g = _by_verdict(ver, metric, "model_a" if other else "model_b")
    if other:  # notebook 03: each row minus the reference
        sp = " " if other[:1].isascii() else ""  # a space between Chinese and a Latin name
        parts = [f"{'、'.join(g[w])} {WORDS_ZH[w]}{sp}{other}" for w in WORDS["compare"] if w in g]
        parts += [f"{'、'.join(g[INCONCLUSIVE])} 与{sp}{other}{sp}相比不能下结论（区间包含零）"] if INCONCLUSIVE in g else []
        return "；".join(parts)
    parts = [f"{WORDS_ZH[w]} {'、'.join(g[w])}" for w in WORDS["compare"] if w in g]
    parts += [f"与 {'、'.join(g[INCONCLUSIVE])} 相比不能下结论（区间包含零）"] if INCONCLUSIVE in g else []
    return f"{subject} " + "；".join(parts)


def _zh_meaning12(ver: pd.DataFrame, thesis_models, state: str, bench: str) -> str:
    sub, b = ver[ver.model_b.isin(list(thesis_models))], BENCH_LABEL[bench]
    pairs = lambda d: "、".join(f"{name_zh(m)}（在 {'、'.join(METRIC_NAMES[x] for x in g.metric)} 上）"  # noqa: E731
                                for m, g in d.groupby("model_b", sort=False))
    if state == "met":
        out = (f"在 {b} 上本复现支持论文的主张：RAGRouter 的 CPU 替代实现在三个指标上都{WORDS_ZH['beats']}论文表中的每个"
               "基线。这些基线是在本离线训练池上重新训练的，不是论文所用的模型，结论只适用于这一设置。")
    elif state == "not met":
        out = (f"在 {b} 上本复现不支持论文的主张：RAGRouter {WORDS_ZH['is beaten by']}论文表中的 "
               f"{pairs(sub[sub.verdict == 'is beaten by'])}（区间不包含零）。")
    else:
        out = (f"在 {b} 上本复现既不能确认也不能否定论文的主张：RAGRouter 与 {pairs(sub[sub.verdict == INCONCLUSIVE])}"
               f" 相比不能下结论（区间包含零）；其余比较中 RAGRouter 都{WORDS_ZH['beats']}对方。")
    extra = ver[~ver.model_b.isin(list(thesis_models)) & (ver.verdict == "is beaten by")]
    if len(extra):
        out += f"另外，在不属于论文表的额外行中，RAGRouter {WORDS_ZH['is beaten by']} {pairs(extra)}（区间不包含零）。"
    return out


def _zh_table12(results: Path, t: int, v12, card) -> list[str]:
    bench, tab = BENCH[t], read_table(results, f"table{t}.csv")
    r = ours_row(tab)
    th = {m: thesis_value(t, OURS, m) for m in METRIC_NAMES}
    line = (f"- 表 {t}（{BENCH_LABEL[bench]}）：{name_zh(r.model)} 的 "
            + "，".join(f"{METRIC_NAMES[m]} 为 {fmt_num(r[m], m)} ± {fmt_num(r[f'{m}_sd'], m)}" for m in METRIC_NAMES)
            + f"（{int(r.n_seeds)} 个种子的平均值 ± 标准差）")
    if th["apgr"] is not None:
        line += "；论文报告的 RAGRouter 为 " + "、".join(f"{METRIC_NAMES[m]} {fmt_num(th[m], m)}" for m in METRIC_NAMES)
    out = [line + "。"]
    if bench == "gsm8k" and card is not None and (n := int(card[card.source.astype(str).str.startswith("gsm8k")]["All"].sum())):
        out.append(f"  - 训练池中有 {n} 道 GSM8K 训练题，与 GSM8K 的评测行同分布：表 2 中每个训练过的路由器都有这一同分布优势，"
                   "表 1（MMLU）则没有。")
    ver = v12[v12.benchmark == bench] if v12 is not None else None
    if ver is None or ver.empty:
        return out + ["  - 没有逐提示的分数，无法计算置信区间，因此不作比较判定。"]
    out += [f"  - 按 {METRIC_NAMES[m]} 判定：{_zh_groups(ver, m, 'RAGRouter')}。" for m in METRIC_NAMES]
    thesis_models = thesis_rows(tab).model.drop(r.name)
    state = expectation_state(ver, thesis_models)
    out.append(f"  - 客户的预期（RAGRouter 在三个指标上都领先论文表中的每个基线，且每个区间都不包含零）：{EXPECTATION_ZH[state]}。")
    return out + [f"  - 对论文主张的含义：{_zh_meaning12(ver, thesis_models, state, bench)}"]


def _zh_part_meaning(ver: pd.DataFrame) -> str:
    by = {v: [METRIC_NAMES[m] for m in g.metric] for v, g in ver.groupby("verdict", sort=False)}
    holds, hurts, rest = by.get("holds", []), by.get("hurts", []), "、".join(by.get(INCONCLUSIVE, []))
    tail = f"；{rest} 不能下结论（区间包含零）" if rest else ""
    if holds and hurts:
        return (f"各指标的判定相互矛盾（{'、'.join(holds)} 上为{WORDS_ZH['holds']}，{'、'.join(hurts)} 上为"
                f"{WORDS_ZH['hurts']}{tail}），本复现不能确认这一主张。")
    if holds:
        return (f"{'、'.join(holds)} 的判定为{WORDS_ZH['holds']}{tail}：本复现"
                + ("支持这一主张。" if not rest else "只在部分指标上支持这一主张。"))
    if hurts:
        return f"{'、'.join(hurts)} 的判定为{WORDS_ZH['hurts']}，即去掉该部件后路由效果反而更好{tail}：本复现不支持这一主张。"
    return "三个指标都不能下结论（区间都包含零）：本复现既不能确认也不能否定这一主张。"


def _zh_ablation(results: Path, t: int, v36) -> list[str]:
    w, wo = ablation_rows(read_table(results, f"table{t}.csv"))
    th_w, th_wo = thesis_value(t, w.model), thesis_value(t, wo.model)
    line = (f"- 表 {t}（消融：{PARTS_ZH[t]}，MMLU，{int(wo.n_seeds)} 个种子）：保留该部件时 APGR 为 "
            f"{fmt_num(w.apgr, 'apgr')} ± {fmt_num(w.apgr_sd, 'apgr')}，去掉后为 {fmt_num(wo.apgr, 'apgr')} ± "
            f"{fmt_num(wo.apgr_sd, 'apgr')}")
    if th_w is not None and th_wo is not None:
        line += f"；论文报告保留时为 {fmt_num(th_w, 'apgr')}，去掉后为 {fmt_num(th_wo, 'apgr')}"
    ver = v36[v36.table == t] if v36 is not None and len(v36) else None
    if ver is None or ver.empty:
        return [line + "。", "  - 没有逐提示的分数，无法计算置信区间，因此不作判定。"]
    return [line + "。", *(f"  - {METRIC_NAMES[d.metric]}（保留减去掉）：{verdict_zh(d)}。" for _, d in ver.iterrows()),
            f"  - 对论文主张（{PARTS_ZH[t]}有益）的含义：{_zh_part_meaning(ver)}"]


def _zh_ablation_overall(v36) -> str | None:
    """One sentence over Tables 3-6 by APGR (the thesis's headline metric)."""
    if v36 is None or not len(v36):
        return None
    a = v36[v36.metric == "apgr"]
    by = {v: [PARTS_ZH.get(int(t), str(t)) for t in g.table] for v, g in a.groupby("verdict", sort=False)}
    if len(by.get("holds", [])) == len(a):
        return f"- 消融总结（按 APGR）：四个部件的判定都为{WORDS_ZH['holds']}，本复现支持论文“每个部件都有益”的结论。"
    parts = [f"{'、'.join(by[v])} 的判定为{WORDS_ZH[v]}" for v in ("holds", "hurts") if v in by]
    parts += [f"{'、'.join(by[INCONCLUSIVE])} 不能下结论（区间包含零）"] if INCONCLUSIVE in by else []
    return (f"- 消融总结（按 APGR）：{'；'.join(parts)}。论文认为每个部件都有益；本复现（CPU 替代实现，"
            "种子数见各表）不能确认这一结论。")


def _zh_result_lines(results: Path, tables=(1, 2, 3, 4, 5, 6)) -> list[str]:
    """The Chinese bullets of Tables 1-6 (numbers, verdicts, what they mean for the thesis's claim), shared by
    the README's 中文摘要 and notebooks 06/07."""
    v12, v36 = read_table(results, "verdicts_tables_1_2.csv"), read_table(results, "verdicts_tables_3_6.csv")
    card, out = read_table(results, "02_pool_card.csv"), []
    for t in tables:
        if read_table(results, f"table{t}.csv") is not None:
            out += _zh_table12(results, t, v12, card) if t in BENCH else _zh_ablation(results, t, v36)
    if any(t not in BENCH for t in tables) and (s := _zh_ablation_overall(v36)):
        out.append(s)
    return out


INTRO_ZH = ("本仓库在 CPU 上离线复现论文中的 RAGRouter 实验：按 RouteLLM 的评测协议（去污染的 MMLU 与 GSM8K 评测集，"
            "指标 CPT(50%)、CPT(80%)、APGR）比较 RAGRouter 与 RouteLLM 的路由器（表 1–2），并在 MMLU 上对四个部件"
            f"（{'、'.join(PARTS_ZH.values())}）逐一做消融（表 3–6）。这里的 RAGRouter 是论文中在弱模型与强模型之间"
            "路由、并检索以往路由结果的方法，不是 Zhang 等人 2025 年提出的同名方法（在多个检索增强大模型之间路由）。"
            "表中的 RAGRouter 行是论文方法的 CPU 替代实现（MiniLM + spaCy 特征，注意力网络作为最终模型），不是论文的 "
            "Qwen-7B 模型；与论文的全部差异列在本节末尾。")


def _pool_size(results: Path):
    card = read_table(results, "02_pool_card.csv")
    return int(card[card.panel == "All"]["All"].iloc[0]) if card is not None else "若干"


def summary_zh(results=None) -> str:
    """README's opening 中文摘要, filled from the same tables as the English reading; the full deviation list."""
    results = Path(results or RESULTS)
    out = [ZH_START, "## 中文摘要", "", INTRO_ZH + "以下数字由 `python -m ragrouter_lib.report` 从 `outputs/results/` "
           "自动生成（各种子的平均值 ± 标准差），每个判定词都来自配对区间。", ""]
    if not tables_from_last_run(results):
        out += [STALE_ZH, ""]
    out += _zh_result_lines(results)
    out += ["", RULE_ZH, "", f"与论文的差异及原因（共 {len(DEVIATIONS_ZH)} 项，与 README 中英文的差异表逐项对应）：", "",
            *deviations_zh(pool=_pool_size(results)), "", "因此绝对数值与论文不同，比较结论也可能不同。", ZH_END]
    return "\n".join(out)


def _zh_list(tab: pd.DataFrame) -> str:
    return "、".join(f"{name_zh(m)} {fmt_num(a, 'apgr')} ± {fmt_num(s, 'apgr')}" for m, a, s in zip(tab.model, tab.apgr, tab.apgr_sd))


def _zh_01(res: Path, t: pd.DataFrame) -> str:
    rows = []
    for b, g in t.groupby("benchmark", sort=False):
        rnd, orc = g[g.model == "Random"].iloc[0], g[g.model == "Oracle"].iloc[0]
        rows.append(f"- {BENCH_LABEL[b]}：随机路由（Random）的 " + "，".join(
            f"{METRIC_NAMES[m]} 为 {fmt_num(rnd[m], m)} ± {fmt_num(rnd[f'{m}_sd'], m)}" for m in METRIC_NAMES)
            + f"（{int(rnd.n_seeds)} 个种子）；Oracle 的 APGR 为 {fmt_num(orc.apgr, 'apgr')}，CPT(50%) 为 {fmt_num(orc.cpt50, 'cpt50')}。")
    return ("本 notebook 检验本项目的指标代码是否按 RouteLLM 的协议计算 CPT(50%)、CPT(80%) 与 APGR；后面所有表格都用这套代码。"
            "去掉污染行后的评测行数与强、弱模型的准确率若与 RouteLLM 公布的不一致，notebook 会在检查处停止运行。\n\n"
            + "\n".join(rows) + "\n\n**含义：** 按协议，随机路由的期望值为 APGR 约 0.5、CPT(50%) 约 50%、CPT(80%) 约 80%；"
            "上方的对照表列出了与 RouteLLM 公布的随机路由数值之差。Oracle 的 APGR 可以超过 1，因为强模型在部分弱模型答对的题上"
            "也会答错。本 notebook 不比较路由器，也不检验论文的主张，只为后续各表提供同一套指标代码。")


def _zh_02(res: Path, t: pd.DataFrame) -> str:
    src, total = t[t.panel != "All"], t[t.panel == "All"].iloc[0]
    panels = " 与 ".join(f"{PANELS_ZH.get(p, p)} 的 {g.source.nunique()} 个来源" for p, g in src.groupby("panel", sort=False))
    need = int(sum(total[c] for c in ("1", "2", "3") if c in total))
    leak = read_table(res, "02_leakage_counts.csv")
    lk = leak[leak.source == "all"].iloc[0] if leak is not None and (leak.source == "all").any() else None
    gsm = int(src[src.source.astype(str).str.startswith("gsm8k")]["All"].sum())
    return (f"离线训练池共 {int(total['All'])} 条，来自 {panels}（共 {src.source.nunique()} 个来源）；其中 {need} 条的分数为 "
            "1–3 分，即需要强模型。1–5 分的标签由记录的 0/1 正确性换算，没有大模型评审。"
            + (f"泄漏检查覆盖所有离线来源：与 MMLU、GSM8K 评测提示完全相同的有 {int(lk['eval exact'])} 条，近似重复的有 "
               f"{int(lk['eval near-duplicate'])} 条；若有，notebook 会停止运行。" if lk is not None else "")
            + "\n\n**含义：** 所有路由器都在同一个离线训练池上训练，评测行从不进入训练；但训练数据与标签方式都与论文不同，"
            "因此本项目的绝对数值不能与论文的数值直接对照。"
            + (f"训练池中有 {gsm} 道 GSM8K 训练题，与 GSM8K 的评测行同分布：表 2 中每个训练过的路由器都有这一同分布优势，"
               "表 1（MMLU）则没有。" if gsm else ""))


def _zh_03(res: Path, *tabs: pd.DataFrame) -> str:
    out = ["RouteLLM 的各路由器在离线训练池上重新训练（同一数据、同一模型选择协议与预算）后，在评测集上的 APGR（各种子的"
           "平均值 ± 标准差）：", ""]
    out += [f"- {BENCH_LABEL[b]}：{_zh_list(t)}" for b, t in zip(BENCH.values(), tabs)]
    meaning = []
    for ref, label in (("random", "随机路由"), ("logreg", "MiniLM 嵌入上的逻辑回归（参考行）")):
        ver = read_table(res, f"03_verdicts_vs_{ref}.csv")
        if ver is None:
            out += ["", f"与 {label} 的配对区间尚未保存（`03_verdicts_vs_{ref}.csv`），因此不作比较判定。"]
            continue
        out += ["", f"每一行减去{label}的配对区间（判定规则见上方打印的规则）：", ""]
        for b, g in ver.groupby("benchmark", sort=False):
            out += [f"- {BENCH_LABEL[b]}，按 {METRIC_NAMES[m]}：{_zh_groups(g, m, '', label)}。" for m in METRIC_NAMES]
        if ref == "random":
            for (b, g), t in zip(ver.groupby("benchmark", sort=False), tabs):
                base = set(thesis_rows(t).model) - {"Random"}
                by = _by_verdict(g[g.model_a.isin(base)], "apgr", "model_a")
                parts = [f"{'、'.join(by[w])} {WORDS_ZH[w]}随机路由" for w in WORDS["compare"] if w in by]
                parts += [f"{'、'.join(by[INCONCLUSIVE])} 与随机路由相比不能下结论（区间包含零）"] if INCONCLUSIVE in by else []
                meaning.append(f"在 {BENCH_LABEL[b]} 上按 APGR，论文表中的基线里，{'；'.join(parts)}。")
    out += ["", "**含义：** 表 1–2 中 RAGRouter 的比较对象就是这些重新训练的基线，而不是论文所用的模型。" + "".join(meaning)
            + "若某个基线与随机路由相比不能下结论，它从训练池中学到的可迁移信号就很少；RAGRouter 对这样的基线的判定，"
            "不能推广到论文中那样训练的基线。"]
    return "\n".join(out)


def _zh_04(res: Path, t: pd.DataFrame) -> str:
    st = dict(zip(t.stage, zip(t.rows, t.strong_needed)))
    lines = [f"- {STAGES_ZH.get(s, s)}：{int(n)} 行，其中需要强模型的比例为 {v:.3f}" for s, (n, v) in st.items()]
    grid = read_table(res, "04_switch_grid.csv")
    on = {True: "打开", False: "关闭"}
    if grid is not None:
        lines.append("- 两个开关的四种组合（表 3、表 4 的变体由此而来）：" + "；".join(
            f"{PARTS_ZH[3]}{on[bool(g.augment)]}、{PARTS_ZH[4]}{on[bool(g.sample)]}时 {int(g.rows)} 行" for g in grid.itertuples()))
    meaning = ""
    if all(k in st for k in ("augmented rows", "original + augmented", "final training set")):
        meaning = (f"{PARTS_ZH[3]}新增了 {int(st['augmented rows'][0])} 行；{PARTS_ZH[4]}把需要强模型的比例从 "
                   f"{st['original + augmented'][1]:.3f} 调整为 {st['final training set'][1]:.3f}。")
    return (f"RAGRouter 的数据流程（标签对齐、{PARTS_ZH[3]}、{PARTS_ZH[4]}）在本种子的随机训练划分上各阶段的行数与需要强模型的"
            "比例（该划分只用于展示，不选择任何东西）：\n\n" + "\n".join(lines)
            + f"\n\n**含义：** 本 notebook 只构建训练数据，不检验论文的主张。{meaning}这两个部件对路由效果是否有益，"
            "由 notebook 07 的表 3 与表 4 按区间判定。")


def _zh_05(res: Path, t: pd.DataFrame) -> str:
    rows = []
    for b, g in t.groupby("benchmark", sort=False):
        th = {m: thesis_value({"mmlu": 1, "gsm8k": 2}[b], OURS, m) for m in METRIC_NAMES}
        rows.append(f"- {BENCH_LABEL[b]}：" + "，".join(f"{METRIC_NAMES[m]} 为 {fmt_num(g[m].mean(), m)}" for m in METRIC_NAMES)
                    + f"（{g.seed.nunique()} 个种子的平均值）" + (("；论文报告 " + "、".join(
                        f"{METRIC_NAMES[m]} {fmt_num(th[m], m)}" for m in METRIC_NAMES)) if th["apgr"] is not None else "") + "。")
    small, lat = read_table(res, "05_small_llm_per_seed.csv"), read_table(res, "05_latency.csv")
    if small is not None and len(small):
        rows.append("- 论文形式的 LLM 最终模型（SmolLM2-135M + LoRA，CPU 规模，"
                    f"{small.seed.nunique()} 个种子，训练池与评测集的子样本）的 APGR："
                    + "、".join(f"{BENCH_LABEL[b]} {fmt_num(a, 'apgr')}" for b, a in zip(small.benchmark, small.apgr))
                    + "；它只展示论文最终模型的代码路径，不参与比较判定。")
    if lat is not None and (lat.router == "ragrouter").any():
        r = lat[lat.router == "ragrouter"].iloc[0]
        rows.append(f"- 在本机 CPU 上，单条查询的延迟中位数为 {r.p50_ms} 毫秒（第 95 百分位为 {r.p95_ms} 毫秒）。")
    return ("RAGRouter 的 CPU 替代实现（MiniLM 语义特征，spaCy 依存图上的 GraphSAGE 句法特征，跨模态多头注意力融合，"
            "FAISS 向量知识库，注意力网络作为最终模型）在评测集上的结果：\n\n" + "\n".join(rows)
            + "\n\n**含义：** 这是论文方法的 CPU 替代实现，不是论文的模型（论文用全量微调的 Qwen-7B 作最终模型），两者的数值"
            "不能直接对照。它与各基线的比较与判定见 notebook 06（表 1–2），各部件的作用见 notebook 07（表 3–6）；本 notebook "
            "本身不检验论文的主张。")


def _zh_07(res: Path, *tabs) -> str:
    th = [(PARTS_ZH[t], thesis_value(t, f"without {p}")) for t, p in
          zip((3, 4, 5, 6), ("multi-source data augmentation", "data sampling", "semantic-syntactic feature extraction",
                             "RAG vector knowledge base"))]
    full = thesis_value(3, "with multi-source data augmentation")
    claim = ("论文的主张：四个部件都有益。" + (f"论文的表 3–6 报告完整模型的 APGR 为 {fmt_num(full, 'apgr')}，去掉"
             + "、".join(f"{p}后为 {fmt_num(v, 'apgr')}" for p, v in th if v is not None) + "。" if full is not None else ""))
    return (claim + "本复现在 MMLU 上用同一配置与配对的种子比较完整模型与去掉一个部件的模型：\n\n"
            + "\n".join(_zh_result_lines(res, (3, 4, 5, 6))) + "\n\n**含义：** 以上判定针对的是 RAGRouter 的 CPU 替代实现"
            "（不是论文的 Qwen-7B 模型），且只用了少量种子；“不能下结论”表示配对差值的 95% 区间包含零，不表示该部件无用。")


ZH_NEEDS = {1: ["01_random_oracle.csv"], 2: ["02_pool_card.csv"], 3: ["03_baselines_mmlu.csv", "03_baselines_gsm8k.csv"],
            4: ["04_stage_sizes.csv"], 5: ["05_ragrouter_per_seed.csv"], 6: ["table1.csv", "table2.csv"],
            7: [f"table{t}.csv" for t in (3, 4, 5, 6)]}


def conclusion_zh(notebook: int, out_dir=None) -> str:
    """The Chinese conclusion cell (markdown) of notebook 01-07, from its result tables: the numbers, the verdicts
    (from the verdict tables), what they mean for the thesis's claim, and the deviations the notebook carries."""
    res = Path(out_dir) / "results" if out_dir is not None else RESULTS
    if notebook not in ZH_NEEDS:
        raise ValueError(f"notebook {notebook}: expected 1-7")
    tabs = [read_table(res, n) for n in ZH_NEEDS[notebook]]
    if any(t is None for t in tabs):
        missing = [n for n, t in zip(ZH_NEEDS[notebook], tabs) if t is None]
        raise FileNotFoundError(f"notebook {notebook:02d}: result tables missing under {res}: {missing}")
    if notebook == 6:
        body = "\n".join(_zh_result_lines(res, (1, 2)) + ["", RULE_ZH])
    else:
        body = {1: _zh_01, 2: _zh_02, 3: _zh_03, 4: _zh_04, 5: _zh_05, 7: _zh_07}[notebook](res, *tabs)
    devs = deviations_zh(NB_DEVIATIONS[notebook], _pool_size(res))
    return (f"### 结论（由 `rr.zh.conclusion_zh({notebook}, cfg.out)` 根据本 notebook 的结果表生成）\n\n{body}\n\n"
            "**本 notebook 涉及的与论文的差异**（完整列表见 README 的中文摘要）：\n\n" + "\n".join(devs))
