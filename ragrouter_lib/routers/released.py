"""``paper`` profile: RouteLLM's released routers (Tables 1-2 baseline rows), through ``routellm``.

Thesis step: the RouteLLM baselines of Tables 1-2 as RouteLLM published them. RouteLLM 0.2.0's
checkpoints on the Hugging Face Hub are wrapped in our ``Router`` interface and scored by our own
evaluation code (``router_runs.evaluate_scores``), never by RouteLLM's ``evaluate.py``. They are rows
of Tables 1-2 (``routers.RELEASED_NAMES``) beside RouteLLM's published D_arena + D_judge numbers;
the routers retrained on our pool (``routellm_baselines.py``) stay as their own rows.

What each released router needs (stated in the log's status table, ``released_status``):
- ``bert`` (``routellm/bert_gpt4_augmented``): the Hub only; runs on CPU or GPU.
- ``causal_llm`` (``routellm/causal_llm_gpt4_augmented``, Llama-3-8B, bf16 ~16 GB): the Hub, access
  to the gated ``meta-llama/Meta-Llama-3-8B`` tokenizer, and CUDA. RouteLLM's class hard-codes
  "cuda"; ``CausalLLMOnDevice`` is that class built from RouteLLM's own parts (config, model loader,
  tokenizer, prompt format, messages, pre/post-processing) with the device as an argument, so the
  dry run runs the same code on CPU.
- ``mf`` (``routellm/mf_gpt4_augmented``) and ``sw_ranking`` (Arena battles + RouteLLM's released
  Arena embeddings ``routellm/arena_battles_embeddings`` / ``routellm/gpt4_judge_battles_embeddings``):
  both embed every query with OpenAI's ``text-embedding-3-small`` at scoring time, so they need
  ``OPENAI_API_KEY`` (paid API calls, ~15k queries). With no key their rows are marked missing and
  the run goes on. An ``embed`` function passed as an argument replaces that call: the router is
  RouteLLM's class (checkpoint, battles, Elo tiers), and its scoring step after the embedding runs
  on the given vectors (``mf_win_rate`` / ``sw_win_rate``: RouteLLM's formulas, checked against
  ``calculate_strong_win_rate`` in tests/test_released.py). The dry run passes ``hub.standin_embedding``.

``routellm`` is installed with ``--no-deps`` (requirements-models.txt); its import needs
``OPENAI_API_KEY`` set (it builds an OpenAI client at import), so a placeholder is set for the
import only when no key exists - routers that would call OpenAI are refused before that.
Dry run (``hub.stand_ins``): checkpoint and dataset ids are mapped to local stand-ins of the same
format; tests monkeypatch ``ROUTER_CLS``-style factories (``router_factory``).
"""
from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import numpy as np

from ..data import hub
from ..data.hub import LLAMA_ID, SPECIAL_TOKENS
from ..data.hub import RELEASED_CONFIG  # noqa: F401  (RouteLLM's checkpoint ids live with every Hub id)
from .base import Router, register

# RouteLLM's default config (routellm/config.example.yaml), the released checkpoints.
NEEDS_OPENAI = {"mf", "sw_ranking"}
NEEDS_CUDA = {"causal_llm"}
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
PLACEHOLDER_KEY = "placeholder-for-routellm-import"


class ReleasedUnavailable(RuntimeError):
    """A released router cannot run here (no OpenAI key, no CUDA, no Hub); its row is missing."""


def openai_key() -> bool:
    key = os.environ.get("OPENAI_API_KEY", "")
    return bool(key) and key != PLACEHOLDER_KEY


def router_factory(router: str):
    """RouteLLM's router class (``routellm.routers.routers.ROUTER_CLS[router]``)."""
    if not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = PLACEHOLDER_KEY  # routellm builds an OpenAI client at import
    return importlib.import_module("routellm.routers.routers").ROUTER_CLS[router]


def default_embed():
    """The query embedding MF and SW Ranking get: None (OpenAI's, inside routellm) or, in the dry
    run, the local stand-in ``hub.standin_embedding`` (no paid call from a dry run)."""
    return hub.standin_embedding if hub.standins() is not None else None


def requirements_missing(router: str, embed=None) -> str | None:
    """Why ``router`` cannot run here, or None (``embed``: a query-embedding function replacing OpenAI's)."""
    import torch  # heavy optional package: imported only when this runs
    if router in NEEDS_OPENAI and embed is None and not openai_key():
        return ("needs OPENAI_API_KEY: RouteLLM embeds every query with OpenAI text-embedding-3-small "
                "(released Arena embeddings are OpenAI embeddings too)")
    if router in NEEDS_CUDA and hub.standins() is None and not torch.cuda.is_available():
        return "needs CUDA (RouteLLM's causal_llm router runs Llama-3-8B in bf16 on 'cuda', ~16 GB)"
    return None


def _stand_in(idx: dict, key: str) -> str:
    if key not in idx:
        raise ReleasedUnavailable(f"dry run: no stand-in for {key}")
    return idx[key]


def resolved_config(router: str) -> dict:
    """RouteLLM's config with checkpoint and dataset ids mapped to local stand-ins in the dry run
    (causal_llm: also its tokenizer, ``tokenizer_path``)."""
    conf = {k: (list(v) if isinstance(v, list) else v) for k, v in RELEASED_CONFIG[router].items()}
    idx = hub.standins()
    if idx is None:
        return conf
    if "checkpoint_path" in conf:
        conf["checkpoint_path"] = _stand_in(idx, conf["checkpoint_path"])
    for key in ("arena_battle_datasets", "arena_embedding_datasets"):
        if key in conf:
            conf[key] = [_stand_in(idx, hub.SW_PREFIX + d) for d in conf[key]]
    if router == "causal_llm":
        conf["tokenizer_path"] = _stand_in(idx, LLAMA_ID)
    return conf


def mf_win_rate(impl, emb) -> float:
    """RouteLLM's ``MatrixFactorizationRouter.calculate_strong_win_rate`` (``MFModel.pred_win_rate``)
    on a given query embedding instead of OpenAI's: the loaded model's P, text_proj, classifier."""
    import torch  # heavy optional package: imported only when this runs
    model = impl.model
    with torch.no_grad():
        ids = torch.tensor([impl.strong_model_id, impl.weak_model_id], dtype=torch.long, device=model.get_device())
        m = torch.nn.functional.normalize(model.P(ids), p=2, dim=1)
        p = model.text_proj(torch.tensor(np.asarray(emb, np.float32), device=model.get_device()))
        logits = model.classifier(m * p).squeeze()
        return torch.sigmoid(logits[0] - logits[1]).item()


def sw_win_rate(impl, emb) -> float:
    """RouteLLM's ``SWRankingRouter.calculate_strong_win_rate`` on a given query embedding: cosine
    weights over the Arena battles' embeddings, weighted Elo (RouteLLM's ``compute_elo_mle_with_tie``)."""
    elo = importlib.import_module("routellm.routers.similarity_weighted.utils").compute_elo_mle_with_tie
    E = impl.arena_conv_embedding
    sims = np.dot(E, emb) / (np.linalg.norm(E, axis=1) * np.linalg.norm(emb))
    res = elo(impl.arena_df, sample_weight=impl.get_weightings(sims))
    weak, strong = res[impl.model2tier[impl.weak_model]], res[impl.model2tier[impl.strong_model]]
    return 1 - 1 / (1 + 10 ** ((strong - weak) / 400))


def _checkpoint_text(checkpoint_path: str, name: str) -> str:
    """A prompt file of the causal_llm checkpoint: local folder (stand-in) or the Hub (as RouteLLM)."""
    if Path(checkpoint_path).is_dir():
        return (Path(checkpoint_path) / name).read_text()
    from huggingface_hub import hf_hub_download  # Hub client: the paper profile only
    return Path(hf_hub_download(repo_id=checkpoint_path, filename=name)).read_text()


class CausalLLMOnDevice:
    """RouteLLM 0.2.0's ``CausalLLMRouter`` with the device as an argument (RouteLLM hard-codes
    "cuda" in ``CausalLLMClassifier.__init__``/``__call__``): its config, ``get_model`` (bf16),
    ``get_tokenizer`` (rating tokens added, left padding), Llama-3 prompt format, message format,
    ``preprocess``/``compute_routing_prob``/``postprocess``; only the two "cuda" moves take ``device``."""

    def __init__(self, checkpoint_path: str, device: str = "cuda", tokenizer_path: str = LLAMA_ID,
                 score_threshold: int = 4):
        conf = importlib.import_module("routellm.routers.causal_llm.configs")
        utils = importlib.import_module("routellm.routers.causal_llm.llm_utils")
        model = importlib.import_module("routellm.routers.causal_llm.model")
        config = conf.RouterModelConfig(model_id=LLAMA_ID, model_type="causal", num_outputs=len(SPECIAL_TOKENS),
                                        special_tokens=SPECIAL_TOKENS, flash_attention_2=False)
        clf = object.__new__(model.CausalLLMClassifier)  # the attributes its __init__ sets, on ``device``
        clf.model = utils.get_model(config=config, model_ckpt=checkpoint_path).to(device).eval()
        clf.prompt_format = utils.load_prompt_format(LLAMA_ID)
        clf.use_last_turn, clf.prompt_field, clf.additinal_fields = True, "messages", []
        clf.tokenizer = utils.get_tokenizer(tokenizer_path, special_tokens=SPECIAL_TOKENS, truncation_side="left",
                                            padding_side="left")
        clf.orig_vocab_size = len(clf.tokenizer) - len(SPECIAL_TOKENS)
        clf.max_new_tokens, clf.score_threshold = 6, score_threshold
        self.clf, self.device = clf, device
        self.to_messages = functools.partial(utils.to_openai_api_messages, _checkpoint_text(checkpoint_path, "system_ft_v5.txt"),
                                             _checkpoint_text(checkpoint_path, "classifier_ft_v5.txt"))

    def classify(self, row: dict) -> dict | None:
        """``CausalLLMClassifier.__call__`` with ``self.device`` for its "cuda"."""
        import torch  # heavy optional package: imported only when this runs
        clf = self.clf
        row = clf.preprocess(row)
        ids = torch.as_tensor(row["input_ids"]).to(self.device).reshape(1, -1)
        with torch.no_grad():
            out = clf.model.generate(ids, max_new_tokens=clf.max_new_tokens, do_sample=False,
                                     pad_token_id=clf.tokenizer.eos_token_id, output_scores=True,
                                     return_dict_in_generate=True)
        row["output_ids"] = out.sequences.squeeze()[ids.shape[1]:].cpu()
        i = next((k for k, x in enumerate(row["output_ids"]) if x >= clf.orig_vocab_size), None)
        if i is None:
            return None
        row["score_logits"] = np.array(out.scores[i][0].to("cpu")[clf.orig_vocab_size:])
        row["binary_prob"], row["softmax_scores"] = clf.compute_routing_prob(row["score_logits"])
        return clf.postprocess(row)

    def calculate_strong_win_rate(self, prompt) -> float:
        out = self.classify({"messages": self.to_messages([prompt])})
        return 1 if out is None else 1 - out["binary_prob"]  # no rating token: route strong (RouteLLM)


@register("routellm_released")
class ReleasedRouter(Router):
    """One released router. ``embed`` (MF, SW Ranking): a function texts -> (n, 1536) array used
    instead of OpenAI's embedding; ``device`` (causal_llm): default "cuda" when present, else "cpu"
    (the dry run's stand-in)."""

    def __init__(self, router: str = "mf", profile: str = "paper", config: dict | None = None, embed=None,
                 device: str | None = None):
        if router not in RELEASED_CONFIG:
            raise KeyError(f"no released RouteLLM router {router!r}; choose from {sorted(RELEASED_CONFIG)}")
        ids = RELEASED_CONFIG[router].get("checkpoint_path") or RELEASED_CONFIG[router]["arena_embedding_datasets"][0]
        if hub.standins() is None:
            hub.require_hub(ids, profile)
        why = requirements_missing(router, embed)
        if why:
            raise ReleasedUnavailable(f"released {router} ({ids}): {why}")
        self.router, self.profile, self.embed = router, profile, embed if router in NEEDS_OPENAI else None
        try:
            cls = router_factory(router)
        except ImportError as e:  # routellm is installed --no-deps; its module imports openai at the top
            raise ReleasedUnavailable(f"released {router} ({ids}): routellm could not be imported ({type(e).__name__}: "
                                      f"{e}); routellm 0.2.0 needs `pip install openai` even for BERT") from None
        conf = config if config is not None else resolved_config(router)
        try:
            if router == "causal_llm" and config is None:
                import torch  # heavy optional package: imported only when this runs
                self.impl = CausalLLMOnDevice(**conf, device=device or ("cuda" if torch.cuda.is_available() else "cpu"))
            else:
                self.impl = cls(**conf)
        except (OSError, ConnectionError) as e:
            raise ReleasedUnavailable(f"released {router} ({ids}): could not load from the Hub "
                                      f"(profile {profile!r}): {str(e).splitlines()[0]}") from None

    def score(self, prompts):
        prompts = list(prompts)
        if self.embed is None:
            return np.array([float(self.impl.calculate_strong_win_rate(p)) for p in prompts], dtype=np.float64)
        rate = mf_win_rate if self.router == "mf" else sw_win_rate
        return np.array([float(rate(self.impl, e)) for e in self.embed(prompts)], dtype=np.float64)

    def params(self):
        return {"router": self.router, "profile": self.profile,
                "embedding": "OpenAI text-embedding-3-small" if self.embed is None and self.router in NEEDS_OPENAI
                else getattr(self.embed, "__name__", None)}
