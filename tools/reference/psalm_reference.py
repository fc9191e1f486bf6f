"""A PyTorch composition of the whole PSALM model (Swin -> projector -> Phi with spliced mask
tokens / class names / sentences / visual prompts -> pixel decoder -> masked-attention decoder),
with its training criterion attached, written here from the module structure of the official
code (zamling/PSALM @ d5dbfda: psalm/model/language_model/llava_phi.py: PSALM.forward,
prepare_inputs_labels_for_multimodal, concat_image_seg_cls_embeds, get_seg_query,
get_class_name_embedding, get_SEG_embedding, get_region_embedding;
psalm/model/visual_prompt_module/context_cluster.py: region_pooling, rand_sample_repeat) and
PSALM_SPEC.md. It is the independent reference of include/psalm/psalm/; the fixture script
tools/reference/psalm_fixtures.py imports it:

    from psalm_reference import PSALM, criterion, tiny_config, ...

Building blocks come from the other references of this folder (not rewritten here):
  Swin          transformers' SwinBackbone, weights under Mask2Former's names (swin_fixtures.py)
  projector     SwinConv (projector_fixtures.py; conv2 applied twice, BatchNorm in train mode)
  Phi           transformers' PhiModel built from a PhiConfig (eager attention); the released
                checkpoint's fused `query_key_value` ([heads, 3, head_dim] rows, spec §7.2) is
                split into q_proj / k_proj / v_proj on load and fused again on save
  pixel decoder PixelDecoder (pixel_decoder_fixtures.py, with msda_reference.py)
  decoder       Decoder (mask_decoder_fixtures.py: forward_woconcat's module tree)
  criterion     psalm_criterion_reference.py (helper "criterion"'s transcription of the matcher,
                point sampling and PSALM_criterion; `criterion` below adapts the prediction sets)

Randomness is explicit: every function that upstream feeds with torch.rand / randperm takes its
points as an argument (region_pooling: the sampled prompt pixels; the matcher: its uniform
points; the criterion: the oversampled and the fresh uniform points of importance sampling),
and separate sample_* functions draw them with a torch.Generator the way upstream does.

Conventions (shapes: B batch, Q mask tokens, D LLM width, Dm decoder width, C classes, K_b
regions of sample b, N_b targets of sample b, T input side, G projector grid side (res5 side
/ 2: T / 64 for Swin's patch 4), Hm = Wm mask side (res2 side), P points):
  * prompt (one sample, before expansion), a dict with
      ids            token ids and sentinels (-200 <image>, -201 <seg>, -202 <cls>,
                     -203 <region>, -204 <refer>);
      class_name_ids per <cls> in prompt order, the class name's tokens (no [SEG]);
      refer_ids      the sentence tokens (no [SEG]);
      prompt_order   canonical class index of each <cls> (prompt order);
    a <cls> expands to name tokens + [SEG], <refer> to sentence tokens + [SEG], <image> to the
    G*G projector tokens, <region> to one pooled vector, <seg> to the Q mask tokens.
  * region points (K_b, P, 2) in [0, 1] as (x, y) = (col / T, row / T) of sampled prompt pixels.
  * targets: list over samples of {"masks": (N_b, T, T) float 0/1, "labels": (N_b) int64 or
    None}. Class targets only for the panoptic task.
  * A sample with no target (N_b = 0; gres "no target") is allowed: upstream crashes there
    (its issue #20); here it has no matched pair (every query of it is trained towards 0 by the
    referring / region BCE and towards "background" by the class CE), contributes no mask
    term, and num_masks = max(1, total targets of the batch).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PhiConfig, PhiModel, SwinBackbone, SwinConfig

import psalm_criterion_reference as pcr
from mask_decoder_fixtures import Decoder
from pixel_decoder_fixtures import PixelDecoder
from projector_fixtures import SwinConv
from swin_fixtures import hf_to_m2f, relative_position_index

IMAGE_TOKEN_INDEX = -200
SEG_TOKEN_INDEX = -201
CLS_TOKEN_INDEX = -202
REGION_TOKEN_INDEX = -203
REFER_TOKEN_INDEX = -204

# psalm::TokenSource values (include/psalm/psalm/sequence.hpp), for the layouts written to JSON.
SOURCE_WORD, SOURCE_IMAGE, SOURCE_REGION, SOURCE_MASK_TOKEN, SOURCE_PADDING = 0, 1, 2, 3, 4

def tiny_config():
    """The PsalmConfig JSON of the parity fixture (tools/reference/psalm_fixtures.py)."""
    return {
        "model_type": "psalm", "image_size": 64, "num_mask_tokens": 8,
        "condition_mode": "mean", "seg_token_id": 99, "pad_token_id": 98, "ref_token_id": None,
        "region_num_points": 16, "model_max_length": 2048,
        "swin": {"image_size": 64, "num_channels": 3, "patch_size": 2, "embed_dim": 8,
                 "depths": [1, 1, 2, 1], "num_heads": [1, 2, 2, 4], "window_size": 3,
                 "mlp_ratio": 4.0, "qkv_bias": True, "drop_path_rate": 0.0,
                 "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                 "hidden_act": "gelu", "layer_norm_eps": 1e-5, "use_absolute_embeddings": False,
                 "patch_norm": True, "out_indices": [1, 2, 3, 4]},
        "projector": {"mm_projector_type": "swin_conv", "mm_input_embeds": 64,
                      "swin_conv_planes": 16, "projector_outdim": 32,
                      "conv2_applied_twice": True, "batch_norm_eps": 1e-5,
                      "batch_norm_momentum": 0.1},
        "phi": {"model_type": "phi", "vocab_size": 100, "hidden_size": 32,
                "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": None, "partial_rotary_factor": 0.5, "rope_theta": 10000.0,
                "layer_norm_eps": 1e-5, "hidden_act": "gelu_new", "max_position_embeddings": 2048,
                "tie_word_embeddings": False, "qk_layernorm": False, "lm_head_bias": False,
                "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attention_dropout": 0.0},
        "pixel_decoder": {"in_channels": [8, 16, 32, 64], "conv_dim": 16, "mask_dim": 16,
                          "transformer_enc_layers": 1, "transformer_nheads": 2,
                          "transformer_dim_feedforward": 32, "enc_n_points": 2,
                          "norm_groups": 4},
        "mask_decoder": {"hidden_dim": 16, "in_channels": 16, "num_queries": 8, "nheads": 2,
                         "dim_feedforward": 32, "dec_layers": 3, "mask_dim": 16,
                         "pre_norm": False, "enforce_input_project": False},
        "matcher": {"cost_class": 2.0, "cost_mask": 5.0, "cost_dice": 5.0, "num_points": 64},
        "criterion": {"class_weight": 2.0, "mask_weight": 5.0, "dice_weight": 5.0,
                      "no_object_weight": 0.1, "num_points": 64, "oversample_ratio": 3.0,
                      "importance_sample_ratio": 0.75, "deep_supervision": True},
    }


# --- the modules ---------------------------------------------------------------------------
class SwinTower(nn.Module):
    """Mask2Former's D2SwinTransformer as transformers' SwinBackbone (the per-stage LayerNorms
    are its hidden_states_norms); forward -> [res2, res3, res4, res5] (NCHW)."""

    def __init__(self, cfg):
        super().__init__()
        c = dict(cfg)
        out = c.pop("out_indices")
        c.pop("patch_norm")  # HF always normalises the patch embedding
        config = SwinConfig(**c, out_features=[f"stage{i}" for i in out])
        config._attn_implementation = "eager"
        self.hf = SwinBackbone(config)
        self.window_size = config.window_size
        self.depths = list(config.depths)

    def forward(self, pixels):
        return list(self.hf(pixels).feature_maps)


class PsalmLanguageModel(PhiModel):
    """Upstream PSALMModel(LlavaMetaModel, PhiModel): the Phi decoder plus `vision_tower` and
    `mm_projector`, so the parameter names are the released `model.*` ones."""

    def __init__(self, phi_config, swin_cfg, projector_cfg):
        super().__init__(phi_config)
        self.vision_tower = SwinTower(swin_cfg)
        p = projector_cfg
        assert p["mm_projector_type"] == "swin_conv"
        self.mm_projector = SwinConv(p["mm_input_embeds"], p["swin_conv_planes"],
                                     p["projector_outdim"], twice=p["conv2_applied_twice"])


def phi_config_of(cfg):
    c = {k: v for k, v in cfg.items() if k not in ("model_type", "lm_head_bias")}
    config = PhiConfig(**c)
    config._attn_implementation = "eager"
    return config


class PSALM(nn.Module):
    """PSALM with the released parameter names (spec §7.1) up to the two layouts that differ
    from transformers' modules (see released_state_dict)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        phi = phi_config_of(cfg["phi"])
        md, pd = cfg["mask_decoder"], cfg["pixel_decoder"]
        d, dm = phi.hidden_size, md["hidden_dim"]
        self.model = PsalmLanguageModel(phi, cfg["swin"], cfg["projector"])
        self.lm_head = nn.Linear(d, phi.vocab_size, bias=False)  # unused by segmentation
        q = cfg["num_mask_tokens"]
        assert q == md["num_queries"]
        self.seg_query = nn.Parameter(torch.zeros(q, d))
        self.seg_query_projector = nn.Linear(d, dm)
        self.SEG_token_projector = nn.Linear(d, dm)
        self.class_name_projector = nn.Linear(d, dm)
        self.region_projector = nn.Linear(d, dm)
        self.pixel_decoder = PixelDecoder(
            in_channels=tuple(pd["in_channels"]), conv_dim=pd["conv_dim"], mask_dim=pd["mask_dim"],
            n_layers=pd["transformer_enc_layers"], d_ffn=pd["transformer_dim_feedforward"],
            n_heads=pd["transformer_nheads"], n_points=pd["enc_n_points"],
            groups=pd["norm_groups"])
        assert md["in_channels"] == md["hidden_dim"] == pd["conv_dim"]
        self.predictor = Decoder(dm, md["nheads"], md["dim_feedforward"], md["dec_layers"], q,
                                 md["mask_dim"])

    # upstream encode_images / get_vision_tower_feature: one shared Swin pass (no drop path)
    def encode_images(self, pixels):
        feats = self.model.vision_tower(pixels)
        return feats, self.model.mm_projector(feats[3])  # (B, G*G, D)

    def forward(self, pixels, prompts, task, region_points=None, retain_grads=False):
        """pixels (B, 3, T, T); prompts: B prompt dicts; task: "panoptic" | "referring" | "gres"
        | "interactive"; region_points: per sample (K_b, P, 2) (interactive only).
        Returns a dict of the intermediates and `predictions`, the dec_layers + 1 prediction
        sets (set 0 from the projected mask tokens, set s after decoder layer s).
        retain_grads: keep .grad of image_tokens, inputs_embeds, hidden, queries and the
        conditions after a backward."""
        feats, image_tokens = self.encode_images(pixels)
        seg_token_id = self.cfg["seg_token_id"]
        region_features = None
        if task == "interactive":
            region_features = [region_pooling(image_tokens[b], region_points[b])
                               for b in range(len(prompts))]
        embed = self.model.embed_tokens.weight
        samples = [concat_image_seg_cls_embeds(p, embed, image_tokens[b], self.seg_query,
                                               None if region_features is None
                                               else region_features[b], seg_token_id)
                   for b, p in enumerate(prompts)]
        batch = pad_batch(samples)
        hidden = self.model(inputs_embeds=batch["inputs_embeds"],
                            attention_mask=batch["attention_mask"]).last_hidden_state
        queries = self.seg_query_projector(get_seg_query(hidden, batch["seg_query_mask"]))
        if retain_grads:
            for x in (image_tokens, batch["inputs_embeds"], hidden, queries):
                x.retain_grad()
        cls = refer = regions = None
        if task == "panoptic":  # class names only (upstream zeroes the other heads by task)
            random_idx = torch.stack([torch.as_tensor(np.argsort(p["prompt_order"]))
                                      for p in prompts])
            cls = class_conditions(hidden, batch["class_name_embedding_indices"],
                                   random_idx, self.class_name_projector)
        elif task in ("referring", "gres"):
            refer = self.SEG_token_projector(
                get_SEG_embedding(hidden, batch["refer_embedding_indices"]))
        elif task == "interactive":
            regions = [self.region_projector(r) for r in
                       get_region_embedding(hidden, batch["region_embedding_masks"])]
        else:
            raise ValueError(f"unknown task {task}")
        if retain_grads:
            for x in [cls, refer] + (regions or []):
                if x is not None:
                    x.retain_grad()
        mask_features, multi_scale = self.pixel_decoder(*feats)
        preds, masks_used, logits_used = self.predictor(queries, multi_scale, mask_features, cls,
                                                        refer, regions)
        predictions = [{"pred_masks": p["pred_masks"],
                        "pred_class_name_logits": p["pred_class_logits"],
                        "pred_SEG_logits": p["pred_seg_logits"],
                        "pred_region_logits": p["pred_region_logits"]} for p in preds]
        return {"res": feats, "image_tokens": image_tokens, "region_features": region_features,
                "inputs_embeds": batch["inputs_embeds"],
                "attention_mask": batch["attention_mask"], "layouts": batch["layouts"],
                "hidden": hidden, "queries": queries, "class_conditions": cls,
                "referring_conditions": refer, "region_conditions": regions,
                "mask_features": mask_features, "multi_scale": multi_scale,
                "predictions": predictions, "attn_masks_used": masks_used,
                "attn_logits_used": logits_used}


# --- input splice, pooling and conditions (upstream llava_phi.py / context_cluster.py) -----
def region_pooling(image_tokens, points):
    """context_cluster.region_pooling for one sample with its points given: image_tokens
    (G*G, D) viewed as a G x G grid (token index = row * G + col), points (K, P, 2) as (x, y) in
    [0, 1]; bilinear grid_sample(align_corners=True) at 2 * p - 1, mean over the P points ->
    (K, D)."""
    g = int(round(math.sqrt(image_tokens.shape[0])))
    assert g * g == image_tokens.shape[0], "image tokens are not a square grid"
    k = points.shape[0]
    grid_map = image_tokens.reshape(g, g, -1).permute(2, 0, 1).unsqueeze(0).expand(k, -1, -1, -1)
    sampled = F.grid_sample(grid_map, (2.0 * points - 1.0).unsqueeze(2).to(image_tokens.dtype),
                            mode="bilinear", padding_mode="zeros", align_corners=True)
    return sampled.squeeze(3).mean(-1)  # (K, D, P) -> (K, D)


def concat_image_seg_cls_embeds(prompt, embed_weight, image_tokens, seg_query, region_features,
                                seg_token_id):
    """One sample's expanded input (upstream concat_image_seg_cls_embeds, walking the ids in
    chunks): text chunks -> embed_tokens rows; <image> -> image_tokens; <seg> -> seg_query;
    the i-th <cls> -> embed(class_name_ids[i] + [SEG]); <refer> -> embed(refer_ids + [SEG]);
    the r-th <region> -> region_features[r]. Bookkeeping as upstream: seg_query_mask,
    class_name_embedding_indices (1-based *prompt-order* class number), refer_embedding_indices,
    region_embedding_mask; plus `layout` (psalm::SequenceLayout fields, class_index canonical)."""
    ids = list(prompt["ids"])
    chunks, cur = [], []
    for t in ids:
        if t >= 0:
            cur.append(t)
        else:
            if cur:
                chunks.append(cur)
                cur = []
            chunks.append([t])
    if cur:
        chunks.append(cur)
    assert ids.count(IMAGE_TOKEN_INDEX) == 1 and ids.count(SEG_TOKEN_INDEX) == 1
    embeds, seg_mask, cls_idx, refer_idx, region_mask = [], [], [], [], []
    lay = {"token_ids": [], "source": [], "source_index": [], "class_index": [], "refer_mask": []}

    def add(e, seg=0, cls=0, refer=0, region=0, tokens=None, source=SOURCE_WORD, index=None,
            canonical=0):
        n = e.shape[0]
        embeds.append(e)
        seg_mask.append(torch.full((n,), seg, dtype=torch.int64))
        cls_idx.append(torch.full((n,), cls, dtype=torch.int64))
        refer_idx.append(torch.full((n,), refer, dtype=torch.int64))
        region_mask.append(torch.full((n,), region, dtype=torch.int64))
        lay["token_ids"] += tokens if tokens is not None else [0] * n
        lay["source"] += [source] * n
        lay["source_index"] += index if index is not None else [-1] * n
        lay["class_index"] += [canonical] * n
        lay["refer_mask"] += [refer] * n

    n_cls = n_region = 0
    for chunk in chunks:
        t = chunk[0]
        if len(chunk) == 1 and t == IMAGE_TOKEN_INDEX:
            add(image_tokens, source=SOURCE_IMAGE, index=list(range(image_tokens.shape[0])))
        elif len(chunk) == 1 and t == SEG_TOKEN_INDEX:
            add(seg_query, seg=1, source=SOURCE_MASK_TOKEN, index=list(range(seg_query.shape[0])))
        elif len(chunk) == 1 and t == CLS_TOKEN_INDEX:
            toks = list(prompt["class_name_ids"][n_cls]) + [seg_token_id]
            canonical = int(prompt["prompt_order"][n_cls]) + 1
            n_cls += 1
            add(embed_weight[torch.tensor(toks)], cls=n_cls, tokens=toks, canonical=canonical)
        elif len(chunk) == 1 and t == REGION_TOKEN_INDEX:
            add(region_features[n_region:n_region + 1], region=1, source=SOURCE_REGION,
                index=[n_region])
            n_region += 1
        elif len(chunk) == 1 and t == REFER_TOKEN_INDEX:
            toks = list(prompt["refer_ids"]) + [seg_token_id]
            add(embed_weight[torch.tensor(toks)], refer=1, tokens=toks)
        else:
            assert t >= 0, f"unknown sentinel {t}"
            add(embed_weight[torch.tensor(chunk)], tokens=list(chunk))
    assert n_cls == len(prompt.get("class_name_ids", [])), "<cls> count != class_name_ids"
    if region_features is not None:
        assert n_region == region_features.shape[0], "<region> count != regions"
    return {"inputs_embeds": torch.cat(embeds, 0), "seg_query_mask": torch.cat(seg_mask),
            "class_name_embedding_indices": torch.cat(cls_idx),
            "refer_embedding_indices": torch.cat(refer_idx),
            "region_embedding_masks": torch.cat(region_mask), "layout": lay}


def pad_batch(samples):
    """Right padding to the longest sample: embeddings 0, bookkeeping 0, attention mask 0."""
    lb = max(s["inputs_embeds"].shape[0] for s in samples)
    out = {"attention_mask": [], "layouts": []}
    for key in ("inputs_embeds", "seg_query_mask", "class_name_embedding_indices",
                "refer_embedding_indices", "region_embedding_masks"):
        rows = []
        for s in samples:
            x = s[key]
            pad = x.new_zeros((lb - x.shape[0],) + tuple(x.shape[1:]))
            rows.append(torch.cat((x, pad), 0))
        out[key] = torch.stack(rows)
    for s in samples:
        n = s["inputs_embeds"].shape[0]
        out["attention_mask"].append(torch.cat((torch.ones(n, dtype=torch.int64),
                                                torch.zeros(lb - n, dtype=torch.int64))))
        lay = {k: list(v) + [0 if k != "source_index" else -1] * (lb - n)
               for k, v in s["layout"].items()}
        lay["source"] = s["layout"]["source"] + [SOURCE_PADDING] * (lb - n)
        out["layouts"].append(lay)
    out["attention_mask"] = torch.stack(out["attention_mask"])
    return out


def get_seg_query(hidden, seg_query_mask):
    """hidden (B, L, D) at the mask-token positions, in sequence order -> (B, Q, D)."""
    return torch.stack([h[m.bool()] for h, m in zip(hidden, seg_query_mask)])


def class_conditions(hidden, class_name_embedding_indices, random_idx, projector):
    """Upstream get_class_name_embedding + class_name_projector + gather(random_idx): mean of
    hidden over each prompt-order class span (1-based ids, in id order), projected, then
    reordered to canonical order (random_idx[b, c] = prompt position of canonical class c)
    -> (B, C, Dm)."""
    pooled = []
    for h, idx in zip(hidden, class_name_embedding_indices):
        ids = torch.unique(idx)
        ids = ids[ids != 0]
        pooled.append(torch.stack([h[idx == i].mean(0) for i in ids]))
    proj = projector(torch.stack(pooled))  # (B, C, Dm), prompt order
    return torch.gather(proj, 1, random_idx.unsqueeze(-1).expand(-1, -1, proj.shape[-1]))


def get_SEG_embedding(hidden, refer_embedding_indices):
    """Mean of hidden over the <refer> span (sentence tokens + [SEG]) -> (B, 1, D)."""
    return torch.stack([h[m.bool()].mean(0, keepdim=True)
                        for h, m in zip(hidden, refer_embedding_indices)])


def get_region_embedding(hidden, region_embedding_masks):
    """hidden at the <region> positions, in order -> list of (K_b, D)."""
    return [h[m.bool()] for h, m in zip(hidden, region_embedding_masks)]


# --- the released parameter layout -------------------------------------------------------
PHI_QKV = ("q_proj", "k_proj", "v_proj")


def _phi_fused_name(name):
    """"model.layers.{i}.self_attn.{q,k,v}_proj.{w,b}" -> ("...query_key_value.{w,b}", slot)."""
    for slot, proj in enumerate(PHI_QKV):
        tag = f".self_attn.{proj}."
        if name.startswith("model.layers.") and tag in name:
            return name.replace(tag, ".self_attn.query_key_value."), slot
    return None, None


def released_layout(model):
    """[(released name, [module names], kind)] for every tensor of the released checkpoint:
    kind "param" (1:1), "swin_qkv" (q | k | v rows concatenated), "phi_qkv" ([heads, 3,
    head_dim] rows), "buffer" (1:1 buffer), "rel_index" (Swin relative_position_index,
    computed)."""
    heads = model.model.config.num_attention_heads
    groups = {}
    tower = "model.vision_tower.hf."
    for name, _ in model.named_parameters():
        if name.startswith(tower):
            rest = name[len(tower):]
            if rest.startswith("swin.layernorm."):  # SwinModel's final norm: not in the backbone
                continue
            m2f, slot = hf_to_m2f(rest)
            key = "model.vision_tower." + m2f
            if slot is None:
                groups[key] = ([name], "param")
            else:
                groups.setdefault(key, ([None] * 3, "swin_qkv"))[0][slot] = name
            continue
        fused, slot = _phi_fused_name(name)
        if fused is not None:
            groups.setdefault(fused, ([None] * 3, "phi_qkv"))[0][slot] = name
            continue
        groups[name] = ([name], "param")
    for name, _ in model.named_buffers():
        if name.startswith("model.mm_projector."):
            groups[name] = ([name], "buffer")
    tw = model.model.vision_tower
    for s, depth in enumerate(tw.depths):
        for b in range(depth):
            groups[f"model.vision_tower.layers.{s}.blocks.{b}.attn.relative_position_index"] = (
                [], "rel_index")
    return [(k, v[0], v[1], heads) for k, v in sorted(groups.items())]


def _fuse_phi(parts, heads):
    q, k, v = parts
    hd = q.shape[0] // heads
    tail = tuple(q.shape[1:])
    return torch.stack([t.reshape((heads, hd) + tail) for t in (q, k, v)], 1).reshape(
        (3 * heads * hd,) + tail)


def _unfuse_phi(fused, heads, slot):
    hd = fused.shape[0] // (3 * heads)
    tail = tuple(fused.shape[1:])
    return fused.reshape((heads, 3, hd) + tail)[:, slot].reshape((heads * hd,) + tail)


def released_state_dict(model, grads=False):
    """The model's tensors (or, grads=True, the .grad of every parameter, zeros where None)
    under the released names; buffers are skipped when grads=True."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    w = model.model.vision_tower.window_size

    def get(n):
        p = params[n]
        if not grads:
            return p.detach()
        return torch.zeros_like(p) if p.grad is None else p.grad.detach()

    out = {}
    for key, names, kind, heads in released_layout(model):
        if kind in ("buffer", "rel_index") and grads:
            continue
        if kind == "param":
            out[key] = get(names[0])
        elif kind == "swin_qkv":
            out[key] = torch.cat([get(n) for n in names], 0)
        elif kind == "phi_qkv":
            out[key] = _fuse_phi([get(n) for n in names], heads)
        elif kind == "buffer":
            out[key] = buffers[names[0]].detach()
        else:
            out[key] = relative_position_index(w)
    return {k: v.clone().contiguous() for k, v in out.items()}


def load_released_state_dict(model, state):
    """Inverse of released_state_dict: every released key must be present and used."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    w = model.model.vision_tower.window_size
    seen = set()
    with torch.no_grad():
        for key, names, kind, heads in released_layout(model):
            v = state[key]
            seen.add(key)
            if kind == "param":
                params[names[0]].copy_(v)
            elif kind == "swin_qkv":
                for slot, (n, part) in enumerate(zip(names, v.chunk(3, 0))):
                    params[n].copy_(part)
            elif kind == "phi_qkv":
                for slot, n in enumerate(names):
                    params[n].copy_(_unfuse_phi(v, heads, slot))
            elif kind == "buffer":
                buffers[names[0]].copy_(v)
            else:
                assert torch.equal(v, relative_position_index(w)), key
    extra = set(state) - seen
    assert not extra, f"unused keys {sorted(extra)[:5]}"


# --- the criterion: tools/reference/psalm_criterion_reference.py (helper "criterion") -------
TASK_KIND = {"panoptic": "classes", "referring": "referring", "gres": "referring",
             "interactive": "regions"}


def criterion(predictions, targets, task, matcher_points, criterion_points, cfg):
    """PSALM_criterion + hungarian_matcher_PSALM on PSALM.forward's prediction sets, through
    psalm_criterion_reference.criterion, with the stored points:
      matcher_points[s][b]   (P_m, 2) for set s, sample b (None for a sample without target:
                             it is not matched);
      criterion_points[s]    (oversampled (R_s, ratio*P, 2), fresh (R_s, P - k, 2)), row r for
                             the r-th matched pair of set s (sample by sample, query ascending).
    Returns (terms: upstream name -> unweighted value, weighted total, matchings[s][b] =
    (query indices, target indices) int64 tensors, coords[s] = the (R_s, P, 2) points the mask
    terms of set s used, or None)."""
    ccfg = cfg["criterion"]
    preds = [{"masks": p["pred_masks"], "class_logits": p["pred_class_name_logits"],
              "seg_logits": p["pred_SEG_logits"], "region_logits": p["pred_region_logits"]}
             for p in predictions]
    points = []
    for s in range(len(predictions)):
        rows = [torch.zeros(cfg["matcher"]["num_points"], 2) if p is None else p
                for p in matcher_points[s]]
        over, fresh = criterion_points[s]
        points.append({"matcher": torch.stack(rows).to(predictions[s]["pred_masks"].dtype),
                       "oversampled": over, "fresh": fresh})
    terms, total, matchings, _ = pcr.criterion(preds, targets, TASK_KIND[task], points,
                                               cfg["matcher"], ccfg)
    matchings = [[(torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64))
                  for i, j in m] for m in matchings]
    k = pcr.num_importance(ccfg["num_points"], ccfg["importance_sample_ratio"])
    coords = []
    with torch.no_grad():
        for s, pred in enumerate(predictions):
            pairs = pcr.matched_pairs([(i.numpy(), j.numpy()) for i, j in matchings[s]])
            if not pairs:
                coords.append(None)
                continue
            src = torch.stack([pred["pred_masks"][b, q] for b, q, _ in pairs])[:, None]
            over, fresh = criterion_points[s]
            coords.append(pcr.uncertain_point_coords(src, over.to(src), fresh.to(src), k))
    return dict(terms), total, matchings, coords


def pair_uncertainties(predictions, matchings, criterion_points):
    """Per set, -|mask logit| of every matched pair at its oversampled points (R_s, ratio*P),
    or None: what importance sampling ranks (for the fixture's margin checks)."""
    res = []
    with torch.no_grad():
        for s, pred in enumerate(predictions):
            pairs = pcr.matched_pairs([(i.numpy(), j.numpy()) for i, j in matchings[s]])
            if not pairs:
                res.append(None)
                continue
            src = torch.stack([pred["pred_masks"][b, q] for b, q, _ in pairs])[:, None]
            over = criterion_points[s][0].to(src)
            res.append(pcr.calculate_uncertainty(pcr.point_sample(src, over))[:, 0, :])
    return res


def match_costs(prediction, targets, matcher_points, cfg, task):
    """The (Q, N_b) matcher cost of every sample with targets (None otherwise)."""
    cls = prediction["pred_class_name_logits"] if TASK_KIND[task] == "classes" else None
    out = []
    with torch.no_grad():
        for b, t in enumerate(targets):
            if t["masks"].shape[0] == 0:
                out.append(None)
                continue
            out.append(pcr.match_cost_matrix(prediction["pred_masks"][b], t["masks"],
                                             None if cls is None else cls[b], t.get("labels"),
                                             matcher_points[b], cfg["matcher"]))
    return out


# --- the samplers (upstream's draws, seeded) ----------------------------------------------
def sample_region_points(mask, num_points, gen):
    """rand_sample_repeat(mask.nonzero() / (H, W), P) then flipped to (x, y): a random subset
    without replacement when the prompt has more than P pixels, else all of them followed by
    random repeats. mask (T, T) -> (P, 2)."""
    h, w = mask.shape
    pos = mask.nonzero().to(torch.float32) / torch.tensor([h, w], dtype=torch.float32)
    n = pos.shape[0]
    assert n > 0, "empty visual prompt"
    if n < num_points:
        extra = torch.randint(0, n, (num_points - n,), generator=gen)
        pos = torch.cat((pos, pos[extra]), 0)
    elif n > num_points:
        pos = pos[torch.randperm(n, generator=gen)[:num_points]]
    return pos.flip(-1).contiguous()


def sample_matcher_points(num_points, gen):
    return torch.rand(num_points, 2, generator=gen)


def sample_criterion_points(num_pairs, cfg, gen):
    p = cfg["num_points"]
    over = torch.rand(num_pairs, int(p * cfg["oversample_ratio"]), 2, generator=gen)
    fresh = torch.rand(num_pairs, p - int(cfg["importance_sample_ratio"] * p), 2, generator=gen)
    return over, fresh
