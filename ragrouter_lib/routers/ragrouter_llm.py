"""RAGRouter's final model as the thesis describes it (``paper`` profile): an LLM over the textual
retrieval-augmented prompt.

Thesis step: "augmented input -> final model". The same feature extractor and FAISS knowledge base
as ``ragrouter`` retrieve the top-K similar KB queries; the query, those queries and their labels
are written into one prompt (``augmented_prompt``); a causal LM reads it and a fully connected layer
maps the last token's hidden state to 5 logits (softmax; strong-win = P(score <= 3)); Adam.

Deviations from the thesis (stated in docs/PAPER.md):
- the thesis fine-tunes *all* of Qwen-7B's parameters; on one 24 GB card that does not fit, so the
  default here is LoRA through ``peft`` (``lora_r > 0``), with 4-bit NF4 weights through
  ``bitsandbytes`` (QLoRA) when the run says so (``load_4bit``: the ``paper`` profile sets it from its
  CUDA decision, ``config.cuda_decision``; never a silent probe). ``lora_r=0`` trains every parameter:
  that is the multi-GPU mode (FSDP, ``configs/fsdp_full_finetune.yaml``) that ``runs.launch`` starts
  with ``accelerate launch`` when several GPUs are visible, never on one card;
- the optimiser is bitsandbytes' 8-bit Adam for 4-bit (QLoRA) weights, else torch Adam.

Several GPUs: ``train_scorer`` hands the fit to the launcher ``runs.launch`` installs (``LAUNCHER``),
which trains in ``accelerate``-launched processes and loads the result back (``fresh_state`` /
``load_trained``); inside those processes ``train_scorer`` runs with their ``accelerator``.

One device per model: hp ``device`` (default the run's: "cuda" if present, else "cpu") holds every
parameter, buffer and input of the LLM scorer after ``fit`` and after a reload (``set_state``,
``ragrouter-score --device``); ``place`` moves and checks (a mix raises). The vector half runs on the CPU.
Bounded memory: a reloaded router builds its scorer when it first scores; ``release`` frees it once
its scores are computed (weights kept on the CPU), so the selection and ablation loops hold one LLM.
Training prompts are out-of-fold (``training_prompts``): the other cross-fit folds' KB, as the
vector final model reads it, never a copy of the row's own label.

``llm_path`` names a local folder or, with the Hub reachable (``paper`` profile), a model id such as
``Qwen/Qwen2.5-7B``. Tests and the dry run use tiny randomly initialised stand-ins
(``hub.stand_ins``); ``train_scorer``/``score_texts`` are shared by this router, the launched
processes (``runs.launch``) and the small real-data run (``paper.small_llm_row``); they live in
``routers.llm_scorer`` with the prompt, backbone loading, device placement and memory release.
"""
from __future__ import annotations

import time

import torch

from ..features import encoders
from .base import register
from .llm_scorer import (
    LLMScorer,
    augmented_prompt,
    free_memory,
    hidden_size,
    load_backbone,
    place,
    run_device,
    score_texts,
    train_scorer,
)
from .ragrouter import RAGRouter


@register("ragrouter_llm")
class RAGRouterLLM(RAGRouter):
    defaults = {**RAGRouter.defaults, "llm_path": "", "lora_r": 8, "lora_alpha": 16, "llm_epochs": 1,
                "llm_lr": 2e-4, "llm_batch_size": 4, "llm_grad_accum": 4, "llm_max_len": 512,
                "load_4bit": None, "gradient_checkpointing": None, "llm_layers": None, "prompt_chars": 300,
                "device": None}
    _llm = tok = llm_state = None  # the built scorer and its tokenizer; the saved adapter + head weights

    def __init__(self, **hp):
        super().__init__(**hp)
        if self.hp["device"] is not None:  # a name (router.json is JSON), checked here
            self.hp["device"] = str(torch.device(self.hp["device"]))

    @property
    def device(self) -> torch.device:
        """Where every parameter, buffer and input of the LLM scorer lives (``run_device``)."""
        return run_device(self.hp["device"])

    @property
    def llm(self) -> LLMScorer:
        """The scorer on ``device``: the one ``fit`` trained, or, after ``set_state``/``release``, one
        built from ``llm_path`` and the saved adapter and head weights (``llm_state``)."""
        if self._llm is None:
            self.build_scorer(self.llm_state)
        return self._llm

    def set_device(self, device) -> None:
        """Run on ``device`` from now on (a built scorer is dropped and rebuilt there when needed)."""
        self.release()
        self.hp["device"] = str(run_device(device))

    def build_scorer(self, weights=None, gradient_checkpointing: bool = False) -> LLMScorer:
        """Tokenizer, backbone (LoRA adapters) and head, ``weights`` loaded (on the CPU), then
        ``place``d on ``device``. Sets ``tok`` and the scorer."""
        hp, device = self.hp, self.device
        load_4bit = device.type == "cuda" if hp["load_4bit"] is None else hp["load_4bit"]
        self.tok, backbone = load_backbone(hp["llm_path"], load_4bit, hp["lora_r"], hp["lora_alpha"],
                                           gradient_checkpointing=gradient_checkpointing,
                                           n_layers=hp["llm_layers"], device=device)
        scorer = LLMScorer(backbone, hidden_size(backbone))
        if weights is not None:
            missing = set(weights) - set(scorer.state_dict())
            if missing:
                raise RuntimeError(f"ragrouter_llm: saved weights do not fit {hp['llm_path']}: {sorted(missing)[:3]}")
            scorer.load_state_dict(weights, strict=False)
        self._llm = place(scorer, device)
        return self._llm

    def fit(self, train, valid=None, prepared=None):
        t0 = time.time()
        super().fit(train, valid, prepared)  # extractor, KB and the vector final model (kept for comparison)
        hp = self.hp
        self._llm = self.tok = self.llm_state = None
        self.seed_step("llm_init")  # adapter and head init
        ckpt = self.device.type == "cuda" if hp["gradient_checkpointing"] is None else hp["gradient_checkpointing"]
        llm = self.build_scorer(gradient_checkpointing=ckpt)  # on self.device; train_scorer's Adam follows it
        self.history += train_scorer(llm, self.tok, self.training_prompts(), self.train_rows.score.to_numpy() - 1,
                                     hp["llm_epochs"], hp["llm_lr"], hp["llm_batch_size"], hp["llm_grad_accum"],
                                     hp["llm_max_len"], hp["seed"])
        self.fit_seconds = time.time() - t0
        return self

    def training_prompts(self) -> list[str]:
        """The training rows' (``train_rows``) textual augmented prompts, each with its out-of-fold
        neighbours (``train_neighbours``: from the KB of the other cross-fit folds, as the vector
        final model reads them), so no prompt lists a copy of its own row (an augmented variant, a
        sampled duplicate) with its label. ``rag="off"``: the query alone."""
        prompts, chars = list(self.train_rows.prompt), self.hp["prompt_chars"]
        if self.hp["rag"] != "on":
            return [augmented_prompt(p, [], chars) for p in prompts]
        return [augmented_prompt(p, [(self.kb_texts[j], int(self.kb.scores[j])) for j in row], chars)
                for p, row in zip(prompts, self.train_neighbours)]

    def rag_prompts(self, prompts) -> list[str]:
        """Each prompt (scoring time) with its top-K neighbours in the full KB and their labels, as text;
        a KB row with the prompt's own text is skipped. ``rag="off"`` (Table 6's variant): the query alone."""
        if self.hp["rag"] != "on":
            return [augmented_prompt(p, [], self.hp["prompt_chars"]) for p in prompts]
        vec = self.embed(prompts)
        k = self.hp["k"]
        _, idx = self.kb.search(vec, k + 1)
        out = []
        for p, row in zip(prompts, idx):
            nb = [(self.kb_texts[j], int(self.kb.scores[j])) for j in row if self.kb_texts[j] != p][:k]
            out.append(augmented_prompt(p, nb, self.hp["prompt_chars"]))
        return out

    def score(self, prompts):
        llm = self.llm  # built (and tok set) first
        return score_texts(llm, self.tok, self.rag_prompts(list(prompts)), self.hp["llm_max_len"])

    def adapter_state(self) -> dict:
        """The trained weights, on the CPU: adapters and head (the backbone is ``llm_path``'s)."""
        if self._llm is None:
            return self.llm_state
        trainable = {k for k, p in self._llm.named_parameters() if p.requires_grad}
        return {k: v.detach().cpu() for k, v in self._llm.state_dict().items()
                if k in trainable or k.startswith("head.")}

    def release(self) -> None:
        """Free the scorer (its GPU memory) once its scores are computed: its adapter and head weights
        stay on the CPU (``llm_state``, a few MB), and the next ``score`` rebuilds it from them and the
        backbone on disk."""
        if self._llm is not None:
            self.llm_state = self.adapter_state()
        self._llm = self.tok = None
        free_memory()

    def state(self):
        st = super().state()
        st["llm"] = self.adapter_state()  # adapters + head only
        st["kb_texts"] = self.kb_texts
        st["encoder_path"] = str(encoders.ENCODERS[self.hp["encoder"]]())  # see set_state
        return st

    def set_state(self, st):
        # The paper encoder (DeBERTa-v3 or its stand-in) is registered by ``paper.register_encoder``
        # in the process that trained the router; a fresh process (``ragrouter-score``, notebook 07's
        # kernel) learns its folder from the saved state. Its identity is in hp["encoder"] (the key).
        name, path = self.hp["encoder"], st.get("encoder_path")
        if name not in encoders.ENCODERS and path:
            encoders.register_encoder(name, path)
        super().set_state(st)
        self.kb_texts = st["kb_texts"]
        self.release()
        self.llm_state = st["llm"]  # the scorer is built on ``device`` when first needed (``llm``)
