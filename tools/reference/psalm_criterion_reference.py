"""PyTorch transcription of PSALM's training objective (PSALM_SPEC §4.1, §4.2): the Hungarian
matcher (official `hungarian_matcher_PSALM`), the PointRend point sampling
(`point_sample`, `get_uncertain_point_coords_with_randomness`, Mask2Former_Simplify's
utils/point_features.py) and the criterion (`PSALM_criterion` with the weight dictionary and
deep supervision of `llava_phi.py`), written from the official code's behaviour with
`scipy.optimize.linear_sum_assignment` as the assignment solver.

Every random tensor is an argument, so a test can feed the same points to psalm's C++ code:
  matcher points  (B, P_m, 2)  one set of uniform points per image, shared by its predictions and
                               targets (upstream: torch.rand(1, num_points, 2) per image);
  oversampled     (M, S, 2)    S = int(num_points * oversample_ratio) candidates per matched pair;
  fresh           (M, R, 2)    R = num_points - int(importance_sample_ratio * num_points).
M is the number of matched (query, target) pairs of the prediction set, in the order of
`matched_pairs` (samples in batch order, each sample's pairs in ascending query order).

Samples without targets (N = 0) are defined as in psalm (upstream crashes on them, its issue
#20): the matching is empty, every query is trained towards "no object" (class target =
background, SEG / region target 0), and the mask terms sum over no pair (0 when the whole batch
has no target); num_masks = max(1, number of target masks in the batch).

Imported by psalm_criterion_fixtures.py (tests/fixtures/psalm/criterion) and by the whole-model
reference psalm_reference.py. No state, no randomness of its own.
"""
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

# The condition kinds of psalm/task.hpp and the loss-term name each one drives.
CONDITION_TERM = {
    "classes": "loss_class_name_class",
    "referring": "loss_SEG_class",
    "regions": "loss_region_class",
}

DEFAULT_MATCHER = {"cost_class": 2.0, "cost_mask": 5.0, "cost_dice": 5.0, "num_points": 12544}
DEFAULT_CRITERION = {
    "class_weight": 2.0,
    "mask_weight": 5.0,
    "dice_weight": 5.0,
    "no_object_weight": 0.1,
    "num_points": 12544,
    "oversample_ratio": 3.0,
    "importance_sample_ratio": 0.75,
    "deep_supervision": True,
}


# ---- point sampling (Mask2Former_Simplify/utils/point_features.py) ------------------------------

def point_sample(inp, coords):
    """inp (N, C, H, W) read at coords (N, P, 2) holding (x, y) in [0, 1] -> (N, C, P):
    grid_sample(align_corners=False, zero padding) at 2 * coords - 1."""
    out = F.grid_sample(inp, 2.0 * coords.unsqueeze(2) - 1.0, align_corners=False)
    return out.squeeze(3)


def calculate_uncertainty(logits):
    """-|logit|: the most uncertain points (logit near 0) score highest."""
    return -torch.abs(logits)


def num_oversampled(num_points, oversample_ratio):
    return int(num_points * oversample_ratio)


def num_importance(num_points, importance_sample_ratio):
    return int(importance_sample_ratio * num_points)


def uncertain_point_coords(coarse_logits, oversampled, fresh, num_uncertain):
    """get_uncertain_point_coords_with_randomness with its two torch.rand draws passed in:
    coarse_logits (M, 1, H, W), oversampled (M, S, 2), fresh (M, R, 2) -> (M, k + R, 2): the k
    candidates of highest uncertainty (torch.topk order: descending) then the fresh points."""
    point_logits = point_sample(coarse_logits, oversampled)  # (M, 1, S)
    unc = calculate_uncertainty(point_logits)[:, 0, :]  # (M, S)
    idx = torch.topk(unc, k=num_uncertain, dim=1)[1]  # (M, k)
    chosen = torch.gather(oversampled, 1, idx.unsqueeze(-1).expand(-1, -1, 2))  # (M, k, 2)
    if fresh.shape[1] > 0:
        chosen = torch.cat([chosen, fresh], dim=1)
    return chosen


# ---- matcher (pretrain_criterion.py: hungarian_matcher_PSALM, utils/matcher.py) -----------------

def batch_sigmoid_ce_cost(inputs, targets):
    """(Q, P) logits, (N, P) targets -> (Q, N) mean over points of BCE-with-logits."""
    p = inputs.shape[1]
    pos = F.binary_cross_entropy_with_logits(inputs, torch.ones_like(inputs), reduction="none")
    neg = F.binary_cross_entropy_with_logits(inputs, torch.zeros_like(inputs), reduction="none")
    return (pos @ targets.T + neg @ (1 - targets).T) / p


def batch_dice_cost(inputs, targets):
    """(Q, P) logits, (N, P) targets -> (Q, N) 1 - (2 sum(s t) + 1) / (sum(s) + sum(t) + 1)."""
    s = inputs.sigmoid()
    numerator = 2 * (s @ targets.T)
    denominator = s.sum(-1)[:, None] + targets.sum(-1)[None, :]
    return 1 - (numerator + 1) / (denominator + 1)


def match_cost_matrix(pred_masks, target_masks, class_logits, labels, points, matcher):
    """One image: pred_masks (Q, H, W), target_masks (N, T, T), class_logits (Q, C) or None,
    labels (N) or None, points (P, 2) -> C (Q, N) = cost_mask * BCE + cost_class * (-prob) +
    cost_dice * dice, all sampled at the image's one set of points."""
    q, n = pred_masks.shape[0], target_masks.shape[0]
    tgt = point_sample(target_masks[:, None], points[None].repeat(n, 1, 1)).squeeze(1)  # (N, P)
    out = point_sample(pred_masks[:, None], points[None].repeat(q, 1, 1)).squeeze(1)  # (Q, P)
    cost = matcher["cost_mask"] * batch_sigmoid_ce_cost(out, tgt)
    if class_logits is not None:
        cost = cost + matcher["cost_class"] * (-class_logits.softmax(-1)[:, labels])
    cost = cost + matcher["cost_dice"] * batch_dice_cost(out, tgt)
    return cost


def hungarian_match(masks, class_logits, targets, points, matcher):
    """masks (B, Q, H, W), class_logits (B, Q, C) or None, targets [{'masks', 'labels'}],
    points (B, P, 2) -> per sample (query indices ascending, target indices), int64 arrays.
    A sample without targets matches nothing (upstream reshapes an empty (Q, 0) cost to
    (Q, -1) and fails there)."""
    out = []
    with torch.no_grad():
        for b, t in enumerate(targets):
            n = t["masks"].shape[0]
            if n == 0:
                out.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
                continue
            cl = class_logits[b] if class_logits is not None else None
            cost = match_cost_matrix(masks[b], t["masks"], cl, t.get("labels"), points[b], matcher)
            rows, cols = linear_sum_assignment(cost.cpu().numpy())
            out.append((rows.astype(np.int64), cols.astype(np.int64)))
    return out


def matched_pairs(matching):
    """[(rows, cols)] -> (sample, query, target) triples in the criterion's order."""
    return [(b, int(q), int(t)) for b, (rows, cols) in enumerate(matching)
            for q, t in zip(rows, cols)]


def draw_points(predictions, targets, kind, generator, matcher=None, crit=None):
    """Every random point criterion() reads, drawn with torch.rand(generator=...) in float32:
    per prediction set s = 0, 1, ... (the decoder's order) the matcher's (B, P_m, 2), then the
    set is matched to size (M, S, 2) and (M, R, 2). Returns points[s] = {'matcher',
    'oversampled', 'fresh'} (cast them to the predictions' dtype before use)."""
    matcher = dict(DEFAULT_MATCHER, **(matcher or {}))
    crit = dict(DEFAULT_CRITERION, **(crit or {}))
    s_count = num_oversampled(crit["num_points"], crit["oversample_ratio"])
    r_count = crit["num_points"] - num_importance(crit["num_points"],
                                                  crit["importance_sample_ratio"])
    out = []
    for pred in predictions:
        b = pred["masks"].shape[0]
        mp = torch.rand(b, matcher["num_points"], 2, generator=generator)
        cl = pred["class_logits"].detach() if kind == "classes" else None
        matching = hungarian_match(pred["masks"].detach(), cl, targets,
                                   mp.to(pred["masks"].dtype), matcher)
        m = len(matched_pairs(matching))
        out.append({"matcher": mp,
                    "oversampled": torch.rand(m, s_count, 2, generator=generator),
                    "fresh": torch.rand(m, r_count, 2, generator=generator)})
    return out


# ---- criterion (pretrain_criterion.py: PSALM_criterion) -----------------------------------------

def loss_masks(masks, targets, matching, oversampled, fresh, num_masks, crit):
    """loss_mask and loss_dice over the matched pairs with importance-sampled points."""
    pairs = matched_pairs(matching)
    if not pairs:
        zero = masks.sum() * 0.0
        return zero, zero
    src = torch.stack([masks[b, q] for b, q, _ in pairs])[:, None]  # (M, 1, H, W)
    tgt = torch.stack([targets[b]["masks"][t] for b, _, t in pairs])[:, None].to(src)  # (M,1,T,T)
    k = num_importance(crit["num_points"], crit["importance_sample_ratio"])
    with torch.no_grad():
        coords = uncertain_point_coords(src.detach(), oversampled.to(src), fresh.to(src), k)
        labels = point_sample(tgt, coords).squeeze(1)  # (M, P)
    logits = point_sample(src, coords).squeeze(1)  # (M, P)
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    loss_mask = bce.mean(1).sum() / num_masks
    s = logits.sigmoid()
    numerator = 2 * (s * labels).sum(-1)
    denominator = s.sum(-1) + labels.sum(-1)
    loss_dice = (1 - (numerator + 1) / (denominator + 1)).sum() / num_masks
    return loss_mask, loss_dice


def loss_class_names(class_logits, targets, matching, crit):
    """Weighted CE over all B * Q queries: matched -> the target's label, others -> the last
    class ("background", weight no_object_weight); PyTorch's weighted mean."""
    b, q, c = class_logits.shape
    target = torch.full((b, q), c - 1, dtype=torch.int64)
    for i, (rows, cols) in enumerate(matching):
        for r, t in zip(rows, cols):
            target[i, r] = int(targets[i]["labels"][t])
    weight = torch.ones(c, dtype=class_logits.dtype)
    weight[-1] = crit["no_object_weight"]
    return F.cross_entropy(class_logits.reshape(-1, c), target.reshape(-1), weight=weight)


def loss_seg(seg_logits, matching, num_masks):
    """BCE over all B * Q referring logits, target 1 on matched queries,
    pos_weight = (B * Q - num_masks) / num_masks, mean."""
    target = torch.zeros_like(seg_logits)
    for i, (rows, _) in enumerate(matching):
        target[i, torch.as_tensor(rows, dtype=torch.int64), 0] = 1
    n = seg_logits.shape[0] * seg_logits.shape[1]
    pos_weight = torch.tensor((n - num_masks) / num_masks, dtype=seg_logits.dtype)
    return F.binary_cross_entropy_with_logits(seg_logits, target, pos_weight=pos_weight)


def loss_regions(region_logits, matching, num_masks):
    """BCE over every (region, query) logit of the batch, target[k, q] = 1 iff query q is
    matched to target (= region) k; pos_weight = (entries - num_masks) / num_masks, mean.
    A batch without any region entry gives 0."""
    flat_logits, flat_targets = [], []
    for logits, (rows, cols) in zip(region_logits, matching):
        target = torch.zeros_like(logits)
        target[torch.as_tensor(cols, dtype=torch.int64), torch.as_tensor(rows, dtype=torch.int64)] = 1
        flat_logits.append(logits.flatten())
        flat_targets.append(target.flatten())
    x = torch.cat(flat_logits)
    if x.numel() == 0:
        return x.sum() * 0.0
    y = torch.cat(flat_targets)
    pos_weight = torch.tensor((x.numel() - num_masks) / num_masks, dtype=x.dtype)
    return F.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight)


def term_weights(crit):
    return {
        "loss_SEG_class": crit["class_weight"],
        "loss_class_name_class": crit["class_weight"],
        "loss_mask": crit["mask_weight"],
        "loss_dice": crit["dice_weight"],
        "loss_region_class": crit["class_weight"],
    }


def criterion(predictions, targets, kind, points, matcher=None, crit=None, num_masks=None):
    """predictions: the decoder's sets in its order ([0] from the initial queries, [-1] the
    final output), each {'masks' (B,Q,H,W), 'class_logits' (B,Q,C), 'seg_logits' (B,Q,1),
    'region_logits' [(K_b, Q)]} (only the kind's entry is read); targets [{'masks' (N,T,T),
    'labels' (N)}]; kind 'classes' | 'referring' | 'regions'; points[s] = {'matcher',
    'oversampled', 'fresh'} for prediction set s. num_masks: the (all-reduced) count to use
    instead of the batch's, before the clamp to >= 1.

    Returns (terms, total, matchings, num_masks): terms an ordered list of (name, unweighted
    value) in upstream's order (the final set, then aux sets 0 .. n-2 with suffix _i),
    total = sum of weight * term, matchings[s] the matching of set s."""
    matcher = dict(DEFAULT_MATCHER, **(matcher or {}))
    crit = dict(DEFAULT_CRITERION, **(crit or {}))
    count = sum(int(t["masks"].shape[0]) for t in targets) if num_masks is None else num_masks
    num_masks = max(float(count), 1.0)
    weights = term_weights(crit)
    n_sets = len(predictions)
    order = [n_sets - 1] + (list(range(n_sets - 1)) if crit["deep_supervision"] else [])
    terms, matchings = [], [None] * n_sets
    total = None
    for s in order:
        pred = predictions[s]
        suffix = "" if s == n_sets - 1 else f"_{s}"
        class_logits = pred["class_logits"] if kind == "classes" else None
        matching = hungarian_match(pred["masks"], class_logits, targets, points[s]["matcher"],
                                   matcher)
        matchings[s] = matching
        set_terms = []
        if kind == "referring":
            set_terms.append(("loss_SEG_class", loss_seg(pred["seg_logits"], matching, num_masks)))
        if kind == "classes":
            set_terms.append(("loss_class_name_class",
                              loss_class_names(pred["class_logits"], targets, matching, crit)))
        lm, ld = loss_masks(pred["masks"], targets, matching, points[s]["oversampled"],
                            points[s]["fresh"], num_masks, crit)
        set_terms += [("loss_mask", lm), ("loss_dice", ld)]
        if kind == "regions":
            set_terms.append(("loss_region_class",
                              loss_regions(pred["region_logits"], matching, num_masks)))
        for name, value in set_terms:
            terms.append((name + suffix, value))
            weighted = weights[name] * value
            total = weighted if total is None else total + weighted
    return terms, total, matchings, num_masks
