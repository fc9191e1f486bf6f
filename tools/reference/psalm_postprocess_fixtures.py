#!/usr/bin/env python3
"""Golden values for PSALM's per-task inference post-processing (include/psalm/psalm/inference/),
written to tests/fixtures/psalm/postprocess/<case>.safetensors for tests/psalm/test_inference.cpp.

The official functions are transcribed here in PyTorch from zamling/PSALM @ d5dbfda (read, not
copied; PSALM_SPEC §5):
  * llava_phi.py eval_seg: F.interpolate(pred_masks, padded size, bilinear, align_corners=False)
    then detectron2 sem_seg_postprocess (crop [:h, :w], bilinear to (H0, W0)) before the task
    post-processing for panoptic / instance / referring / region; for the semantic-only mode the
    semantic map is computed at the padded size and post-processed afterwards;
  * class_name_panoptic_inference (object_mask_threshold 0.8, overlap_threshold 0.8);
  * class_name_instance_inference (top test_topk_per_image = Q over Q x (C-1); with panoptic_on
    only thing classes are kept; score x mean sigmoid inside mask > 0 with eps 1e-6);
  * class_name_semantic_inference (einsum of softmax[:, :-1] and sigmoid(masks), argmax later);
  * SEG_instance_inference + referring_segmentation.py compute_metric (top-1 score);
  * eval_grefcoco.py compute_metric (OR of masks with score > thr = 0.6, else top-1);
  * region_inference + region_segmentation.py (argmax per region);
  * eval_davis.py (per object: top-10 queries, sorted, the first not taken by an earlier object,
    else the previous object's pick stays; fuse_davis_mask paints in object order; the memory
    is kept only when every pair of picked masks has IoU <= 0.4).
Deviation, for determinism: topk(sorted=False) of the instance / referring paths is taken
sorted (the set is the same; only its order is unspecified upstream). Among equal scores
torch.topk's choice is unspecified (case empty_e, where every score is 0, shows it is not the
lowest index); the C++ side takes the lowest index, and its test compares masks there.

Each case holds the low-resolution logits the model would produce, the geometry, the masks at
the original size as torch computes them (the C++ task functions are compared on these, so a
last-ulp difference of the resize cannot flip a pixel), and every task's result.

Deterministic (torch.manual_seed per case). Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/psalm_postprocess_fixtures.py
"""
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "psalm" / "postprocess"
TARGET = 64  # padded input side; masks come at 1/4 of it


# ---------------------------------------------------------------------------------------------
# Geometry and the common resize (eval_seg + sem_seg_postprocess)

def shortest_edge_size(h, w, size):
    scale = size / min(h, w)
    newh, neww = (size, scale * w) if h < w else (scale * h, size)
    if max(newh, neww) > size:
        s = size / max(newh, neww)
        newh, neww = newh * s, neww * s
    return int(newh + 0.5), int(neww + 0.5)


def to_padded(x):
    """(P, m, n) -> (P, T, T): eval_seg's F.interpolate to the padded input size."""
    return F.interpolate(x[None], size=(TARGET, TARGET), mode="bilinear", align_corners=False)[0]


def sem_seg_postprocess(x, valid, h0, w0):
    """detectron2 modeling/postprocessing.py: crop the valid extent, resize to the original."""
    x = x[:, : valid[0], : valid[1]].expand(1, -1, -1, -1)
    return F.interpolate(x, size=(h0, w0), mode="bilinear", align_corners=False)[0]


# ---------------------------------------------------------------------------------------------
# The official post-processing functions

def panoptic_inference(class_logits, masks, is_thing, object_mask_threshold=0.8,
                       overlap_threshold=0.8):
    scores, labels = F.softmax(class_logits, dim=-1).max(-1)
    background = class_logits.shape[-1] - 1
    probs = masks.sigmoid()
    keep = labels.ne(background) & (scores > object_mask_threshold)
    cur_scores, cur_classes, cur_masks = scores[keep], labels[keep], probs[keep]
    cur_queries = torch.nonzero(keep).flatten()
    h, w = masks.shape[-2:]
    ids = torch.zeros((h, w), dtype=torch.int32)
    segments = []  # (id, class, isthing, query)
    if cur_masks.shape[0] == 0:
        return ids, segments
    mask_ids = (cur_scores.view(-1, 1, 1) * cur_masks).argmax(0)
    stuff_ids = {}
    next_id = 0
    for k in range(cur_classes.shape[0]):
        cls = int(cur_classes[k])
        thing = bool(is_thing[cls])
        mask_area = int((mask_ids == k).sum())
        original_area = int((cur_masks[k] >= 0.5).sum())
        mask = (mask_ids == k) & (cur_masks[k] >= 0.5)
        if mask_area > 0 and original_area > 0 and int(mask.sum()) > 0:
            if mask_area / original_area < overlap_threshold:
                continue
            if not thing:
                if cls in stuff_ids:
                    ids[mask] = stuff_ids[cls]
                    continue
                stuff_ids[cls] = next_id + 1
            next_id += 1
            ids[mask] = next_id
            segments.append((next_id, cls, thing, int(cur_queries[k])))
    return ids, segments


def mean_mask_prob(masks):
    """Mean sigmoid inside mask > 0 per query, eps 1e-6 (the instance / SEG / region scores)."""
    binary = (masks > 0).float()
    return (masks.sigmoid().flatten(1) * binary.flatten(1)).sum(1) / (binary.flatten(1).sum(1) + 1e-6)


def instance_inference(class_logits, masks, is_thing, things_only, topk):
    scores = F.softmax(class_logits, dim=-1)[:, :-1]
    q, c = scores.shape
    labels = torch.arange(c).unsqueeze(0).repeat(q, 1).flatten(0, 1)
    top_scores, top_index = scores.flatten(0, 1).topk(topk, sorted=True)
    top_labels = labels[top_index]
    top_queries = top_index // c
    if things_only:
        keep = torch.tensor([bool(is_thing[int(l)]) for l in top_labels], dtype=torch.bool)
        top_scores, top_labels, top_queries = top_scores[keep], top_labels[keep], top_queries[keep]
    final = top_scores * mean_mask_prob(masks[top_queries])
    return top_queries, top_labels, final


def semantic_scores(class_logits, masks):
    return torch.einsum("qc,qhw->chw", F.softmax(class_logits, dim=-1)[:, :-1], masks.sigmoid())


def referring_scores(seg_logits, masks):
    return torch.sigmoid(seg_logits.flatten()) * mean_mask_prob(masks)


def gres_official(scores, masks, thr=0.6):
    binary = (masks > 0).to(torch.uint8)
    picked = [i for i in range(scores.shape[0]) if scores[i] > thr]
    if picked:
        fused = binary[picked[0]].bool()
        for i in picked[1:]:
            fused = fused | binary[i].bool()
        return fused.to(torch.uint8), picked
    top = int(torch.topk(scores, 1).indices[0])
    return binary[top], []


def region_scores(region_logits, masks):
    """region_inference's scores, (K, Q) (upstream returns the transpose and transposes back)."""
    return torch.sigmoid(region_logits) * mean_mask_prob(masks)[None, :]


def davis_select(scores, top=10):
    """eval_davis.py's pick per object; a stale pick when every candidate is taken."""
    taken, picks, pick = [], [], None
    for k in range(scores.shape[0]):
        _, idx = torch.topk(scores[k], top, largest=True, sorted=True)
        for i in range(top):
            if int(idx[i]) not in taken:
                taken.append(int(idx[i]))
                pick = int(idx[i])
                break
        picks.append(pick)
    return picks


def davis_paint(binary_masks, fill_numbers):
    fused = torch.zeros_like(binary_masks[0], dtype=torch.int32)
    for m, f in zip(binary_masks, fill_numbers):
        fused[m == 1] = int(f)
    return fused


def davis_memory_ok(binary_masks, max_iou=0.4):
    for i in range(len(binary_masks)):
        for j in range(len(binary_masks)):
            if i != j:
                inter = torch.logical_and(binary_masks[i], binary_masks[j]).sum().double()
                union = torch.logical_or(binary_masks[i], binary_masks[j]).sum().double()
                if inter / union > max_iou:  # 0 / 0 = nan compares false, as numpy
                    return False
    return True


# ---------------------------------------------------------------------------------------------
# Cases: logits with structure (blobs, confident classes) and edge cases

def blob_logits(q, m, centers, radii, gain=6.0, noise=0.4):
    yy, xx = torch.meshgrid(torch.arange(m, dtype=torch.float32),
                            torch.arange(m, dtype=torch.float32), indexing="ij")
    out = torch.empty(q, m, m)
    for i in range(q):
        cy, cx = centers[i]
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        out[i] = gain * (torch.exp(-d2 / radii[i] ** 2) - 0.5) + noise * torch.randn(m, m)
    return out


def scene_a():
    """Rich panoptic: merged stuff, an overlap rejection, an empty confident query, background."""
    torch.manual_seed(11)
    q, m = 10, TARGET // 4
    centers = [(4, 4), (4.5, 5), (11, 11), (12, 3), (3, 12), (8, 8), (12, 12), (2, 2), (8, 3),
               (6, 10)]
    radii = [3.0, 2.0, 3.5, 2.5, 3.0, 2.0, 2.5, 1.5, 6.0, 2.0]
    masks = blob_logits(q, m, centers, radii)
    masks[7] = -4.0 + 0.3 * torch.randn(m, m)  # a confident query whose mask is empty
    # classes: 0 thing, 1 thing, 2 stuff, 3 stuff, 4 thing, 5 = background
    class_logits = 0.8 * torch.randn(q, 6)
    confident = {0: 0, 1: 0, 2: 2, 3: 3, 4: 2, 6: 4, 7: 1, 8: 5, 9: 3}
    for i, c in confident.items():
        class_logits[i, c] += 7.0
    class_logits[5, 1] += 1.0  # below 0.8
    seg = torch.tensor([3.0, 0.2, -2.0, 2.5, -1.0, -3.0, -0.5, 4.0, -2.0, 0.0])[:, None]
    # regions: 0 and 1 both prefer query 2 (VOS conflict), 2 prefers the empty query 7
    region = torch.randn(3, q)
    region[0, 2] += 6.0
    region[1, 2] += 5.0
    region[1, 4] += 3.0
    region[2, 7] += 8.0  # an empty mask scores 0: region 2 ends up elsewhere
    return dict(h0=37, w0=50, masks=masks, class_logits=class_logits, is_thing=[1, 1, 0, 0, 1],
                seg_logits=seg, region_logits=region, fill=[1, 2, 3])


def scene_b():
    """Nothing passes the panoptic threshold; no SEG score passes 0.6 (gRES no target); no region."""
    torch.manual_seed(12)
    q, m = 10, TARGET // 4
    masks = 2.0 * torch.randn(q, m, m)
    class_logits = 0.5 * torch.randn(q, 5)
    seg = -3.0 + 0.5 * torch.randn(q, 1)
    return dict(h0=50, w0=40, masks=masks, class_logits=class_logits, is_thing=[1, 0, 1, 0],
                seg_logits=seg, region_logits=torch.zeros(0, q), fill=[])


def random_c():
    """Random logits, larger spread, more classes; several SEG scores pass 0.6."""
    torch.manual_seed(13)
    q, m = 12, TARGET // 4
    masks = 3.0 * torch.randn(q, m, m)
    class_logits = 3.0 * torch.randn(q, 8)
    seg = 2.0 + 2.0 * torch.randn(q, 1)
    region = 2.0 * torch.randn(4, q)
    return dict(h0=37, w0=50, masks=masks, class_logits=class_logits,
                is_thing=[1, 0, 1, 1, 0, 1, 0], seg_logits=seg, region_logits=region,
                fill=[3, 1, 7, 2])


def crowd_d():
    """More VOS objects (11) than the 10 candidates: the last one keeps the stale pick."""
    torch.manual_seed(14)
    q, m = 10, TARGET // 4
    masks = 2.0 * torch.randn(q, m, m)
    class_logits = torch.randn(q, 3)
    seg = torch.randn(q, 1)
    region = 2.0 * torch.randn(11, q)
    return dict(h0=40, w0=40, masks=masks, class_logits=class_logits, is_thing=[1, 0],
                seg_logits=seg, region_logits=region, fill=list(range(1, 12)))


def empty_e():
    """Every mask empty (all logits < 0): every score is 0, so every choice is a tie."""
    torch.manual_seed(15)
    q, m = 10, TARGET // 4
    masks = -3.0 + 0.5 * torch.randn(q, m, m)
    class_logits = torch.randn(q, 4)
    class_logits[:, 0] += 6.0  # confident, but no mask to show
    seg = 3.0 * torch.randn(q, 1)
    region = 2.0 * torch.randn(2, q)
    return dict(h0=30, w0=30, masks=masks, class_logits=class_logits, is_thing=[1, 0, 1],
                seg_logits=seg, region_logits=region, fill=[1, 2])


CASES = {"scene_a": scene_a, "scene_b": scene_b, "random_c": random_c, "crowd_d": crowd_d,
         "empty_e": empty_e}


def run(case):
    h0, w0 = case["h0"], case["w0"]
    valid = shortest_edge_size(h0, w0, TARGET)
    low = case["masks"]
    padded = to_padded(low)
    masks = sem_seg_postprocess(padded, valid, h0, w0)  # (Q, H0, W0)
    cls = case["class_logits"]
    is_thing = case["is_thing"]
    q = low.shape[0]
    out = {
        "geometry": torch.tensor([h0, w0, valid[0], valid[1], TARGET, TARGET], dtype=torch.int64),
        "mask_logits": low.contiguous(),
        "class_logits": cls.contiguous(),
        "seg_logits": case["seg_logits"].contiguous(),
        "region_logits": case["region_logits"].contiguous(),
        "is_thing": torch.tensor(is_thing, dtype=torch.uint8),
        "masks_original": masks.contiguous(),
    }
    # panoptic
    ids, segments = panoptic_inference(cls, masks, is_thing)
    out["panoptic.ids"] = ids
    out["panoptic.segments"] = torch.tensor([[s[0], s[1], int(s[2]), s[3]] for s in segments],
                                            dtype=torch.int64).reshape(-1, 4)
    # instance, plain and panoptic mode (thing classes only)
    for name, things_only in (("instance", False), ("instance_things", True)):
        queries, labels, scores = instance_inference(cls, masks, is_thing, things_only, q)
        out[name + ".queries"] = queries.to(torch.int64)
        out[name + ".labels"] = labels.to(torch.int64)
        out[name + ".scores"] = scores.contiguous()
    out["mask_scores"] = mean_mask_prob(masks)
    # semantic: semantic-only mode (padded size first) and panoptic mode (original size)
    sem_padded = sem_seg_postprocess(semantic_scores(cls, padded), valid, h0, w0)
    out["semantic.scores"] = sem_padded.contiguous()
    out["semantic.labels"] = sem_padded.argmax(0).to(torch.int32)
    sem_orig = semantic_scores(cls, masks)
    out["semantic_original.scores"] = sem_orig.contiguous()
    out["semantic_original.labels"] = sem_orig.argmax(0).to(torch.int32)
    # referring and gRES
    rs = referring_scores(case["seg_logits"], masks)
    out["referring.scores"] = rs
    out["referring.query"] = torch.tensor([int(torch.topk(rs, 1).indices[0])], dtype=torch.int64)
    gmask, picked = gres_official(rs, masks)
    out["gres.mask"] = gmask.contiguous()
    out["gres.picked"] = torch.tensor(picked, dtype=torch.int64)
    # interactive and VOS
    region = case["region_logits"]
    k = region.shape[0]
    sc = region_scores(region, masks)
    out["region.scores"] = sc.contiguous()
    out["region.picks"] = (sc.argmax(1) if k else torch.zeros(0)).to(torch.int64)
    if k:
        picks = davis_select(sc)
        binary = [(masks[p] > 0).to(torch.uint8) for p in picks]
        out["vos.picks"] = torch.tensor(picks, dtype=torch.int64)
        out["vos.fill"] = torch.tensor(case["fill"], dtype=torch.int64)
        out["vos.index_map"] = davis_paint(binary, case["fill"])
        out["vos.memory_ok"] = torch.tensor([int(davis_memory_ok(binary))], dtype=torch.int64)
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in CASES.items():
        out = run(make())
        path = OUT / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in out.items()}, str(path))
        print(f"{name}: {path.stat().st_size / 1024:.0f} KiB, panoptic segments "
              f"{out['panoptic.segments'].tolist()}, gres picked {out['gres.picked'].tolist()}"
              + (f", vos picks {out['vos.picks'].tolist()} memory {out['vos.memory_ok'].item()}"
                 if "vos.picks" in out else ""))


if __name__ == "__main__":
    main()
