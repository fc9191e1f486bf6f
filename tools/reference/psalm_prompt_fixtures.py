"""Golden values for PSALM's input schema (include/psalm/psalm/{conversation,prompt,expand,
visual_prompt,region_pooling}.hpp), written to tests/fixtures/psalm/prompts.json. CI never runs
this; rerun it after changing a case and commit the output:

    tools/reference/.venv/bin/python tools/reference/psalm_prompt_fixtures.py

References, each independent of the C++ code:
  * the tokenizer: transformers' CodeGenTokenizer built from the GPT-2 BPE files plus the 38
    whitespace tokens, [PAD] and [SEG] exactly as psalm/train/train.py adds them
    (tokenizer_fixtures.build_transformers);
  * the prompts: a transcription of the official code (zamling/PSALM @ d5dbfda):
    conversation.py Conversation.get_prompt (LLAMA_2 style) with conv_llava_phi,
    train_datasets.py COCO_panoptic_dataset(_random) / RefCOCO_dataset / COCO_interactive_dataset
    prompt strings, tokenizer_special_tokens, preprocess_class_name,
    preprocess_referring_instruction, MM_Conv_Dataset.preprocess_llama2 ('phi' branch) and
    preprocess_multimodal;
  * the expansion: a transcription of llava_phi.py concat_image_seg_cls_embeds (its chunk walk,
    cls_idx / region_idx counters and bookkeeping masks), position by position, with symbolic
    embedding rows and small image-token / mask-token counts;
  * visual prompts: coco_instance_mapper.py enhance_with_circles (NumPy distance <= radius),
    skimage.draw.line for scribble segments (as bulid_COCO_Interactivate.py draws), detectron2's
    ResizeShortestEdge output size, Pillow NEAREST resize, np.pad bottom/right with 0;
  * region pooling: context_cluster.py region_pooling (point_sample = torch grid_sample on
    2 p - 1, align_corners=True, AdaptiveAvgPool1d) in float64 with autograd gradients.
"""
import json
import math
import pathlib
import random
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.draw import line as sk_line

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import tokenizer_fixtures  # noqa: E402  (the tokenizer construction lives there)

torch.set_num_threads(1)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "psalm" / "prompts.json"

IGNORE_INDEX = -100
IMAGE, SEG, CLS, REGION, REFER = -200, -201, -202, -203, -204
MARKER_IDS = {"<image>": IMAGE, "<seg>": SEG, "<cls>": CLS, "<region>": REGION, "<refer>": REFER}
NUM_IMAGE_TOKENS, NUM_MASK_TOKENS = 4, 5  # small expansions keep the fixture readable
MODEL_MAX_LENGTH = 2048

# ---- conversation.py (transcribed) -------------------------------------------------------------

SYSTEM = ("You are a helpful language and vision assistant. You are able to understand the visual "
          "content that the user provides, and assist the user with a variety of tasks using "
          "natural language.")
SEP = SEP2 = "<|endoftext|>"


def get_prompt(messages):
    """Conversation.get_prompt, SeparatorStyle.LLAMA_2, conv_llava_phi."""
    wrap_sys = lambda msg: f"<<SYS>>\n{msg}\n<</SYS>>\n\n"  # noqa: E731
    wrap_inst = lambda msg: f"[INST] {msg} [/INST]"  # noqa: E731
    ret = ""
    for i, (role, message) in enumerate(messages):
        if i == 0:
            assert message and role == "USER"
        if message:
            if i == 0:
                message = wrap_sys(SYSTEM) + message
            if i % 2 == 0:
                message = wrap_inst(message)
                ret += SEP + message
            else:
                ret += " " + message + " " + SEP2
        else:
            ret += ""
    return ret.lstrip(SEP)


# ---- train_datasets.py (transcribed) -----------------------------------------------------------


def tokenizer_special_tokens(prompt, tok, markers=("<image>", "<seg>", "<cls>", "<region>",
                                                   "<refer>")):
    ids = []
    for chunk in re.split("(" + "|".join(markers) + ")", prompt):
        if chunk in markers:
            ids.append(MARKER_IDS[chunk])
        else:
            ids.extend(tok.encode(chunk, add_special_tokens=False))
    return ids


def mm_conv_tokenize(prompt, tok):
    """MM_Conv_Dataset.tokenizer_special_tokens: split on <image>, then <seg>; tokenizer(chunk)."""
    chunks, specials = [], []
    for i, chunk in enumerate(prompt.split("<image>")):
        if i != 0:
            specials.append("<image>")
        seg_splits = chunk.split("<seg>")
        chunks.extend(seg_splits)
        specials.extend(["<seg>"] * (len(seg_splits) - 1))
    chunk_ids = [tok(c).input_ids for c in chunks]
    special_ids = [IMAGE if s == "<image>" else SEG for s in specials]
    ids = []
    for i, c in enumerate(chunk_ids):
        ids.extend(c)
        if i != len(chunk_ids) - 1:
            ids.append(special_ids[i])
    return ids


def preprocess_multimodal(value):
    if "<image>" in value:
        value = value.replace("<image>", "").strip()
        value = "<image>" + "\n" + value
        value = value.strip()
    return value


def mm_conv_preprocess(turns, tok):
    """MM_Conv_Dataset.__getitem__ + preprocess_llama2 with conv.version == 'phi'."""
    source = []
    for user, assistant in turns:
        source.append({"from": "human", "value": preprocess_multimodal(user)})
        source.append({"from": "gpt", "value": preprocess_multimodal(assistant)})
    roles = {"human": "USER", "gpt": "ASSISTANT"}
    messages = [(roles[s["from"]], s["value"]) for s in source]
    conversation = get_prompt(messages)
    input_ids = mm_conv_tokenize(conversation, tok)
    target = list(input_ids)
    total_len = sum(1 for t in target if t != tok.pad_token_id)
    sep = "[/INST] "
    rounds = conversation.split(SEP2)
    cur_len = 0
    idx = 0
    for rou in rounds:
        if rou == "":
            continue
        parts = rou.split(sep)
        if len(parts) != 2:
            break
        parts[0] += sep
        if idx > 0:
            round_len = len(mm_conv_tokenize(rou, tok)) + 2
            instruction_len = len(mm_conv_tokenize(parts[0], tok))
        else:
            round_len = len(mm_conv_tokenize(rou, tok)) + 1
            instruction_len = len(mm_conv_tokenize(parts[0], tok)) - 1
        target[cur_len:cur_len + instruction_len] = [IGNORE_INDEX] * len(
            target[cur_len:cur_len + instruction_len])
        cur_len += round_len
        idx += 1
    target[cur_len:] = [IGNORE_INDEX] * len(target[cur_len:])
    mismatch = False
    if cur_len < MODEL_MAX_LENGTH and cur_len != total_len:
        target = [IGNORE_INDEX] * len(target)
        mismatch = True
    return conversation, input_ids, target, mismatch


def class_prompt(tok, names, shuffle_rng=None, task_words="Panoptic Segmentation"):
    """COCO_panoptic_dataset(_random): prompt, class_name_ids (flat with [SEG]), cls_indices,
    random_idx (upstream's name for the shuffled order) and permute_idx (its argsort)."""
    prefix_inst = f"This is an image <image>, Please do {task_words}."
    category = "<cls>, " * (len(names) - 1) + "<cls>."
    sources_value = f"\nThis is all the candidate categories: {category}\n"
    conversation = get_prompt([("USER", prefix_inst + sources_value),
                               ("ASSISTANT", "\nSure, the segmentation result is <seg>")])
    input_ids = tokenizer_special_tokens(conversation, tok)
    random_idx = list(range(len(names)))
    if shuffle_rng is not None:
        shuffle_rng.shuffle(random_idx)
    ordered = [names[i] for i in random_idx]
    permute_idx = sorted(range(len(random_idx)), key=random_idx.__getitem__)
    seg = tok.encode("[SEG]", add_special_tokens=False)[0]
    tokenized = [tok.encode(n, add_special_tokens=False) + [seg] for n in ordered]
    class_name_ids = [t for sub in tokenized for t in sub]
    cls_indices = [i for i, sub in enumerate(tokenized) for _ in sub]
    return conversation, input_ids, class_name_ids, cls_indices, random_idx, permute_idx


def refer_prompt(tok, sentences):
    prefix_inst = ("This is an image <image>, Please doing Referring Segmentation according to the "
                   "following instruction:")
    instruction = ""
    for sent in sentences:
        instruction += " {}.".format(sent)
    conversation = get_prompt([("USER", prefix_inst + "\n<refer>"),
                               ("ASSISTANT", "\nSure, the segmentation result is <seg>")])
    input_ids = tokenizer_special_tokens(conversation, tok)
    token_refer_id = tok.encode(instruction, add_special_tokens=False) + [
        tok.encode("[SEG]", add_special_tokens=False)[0]]
    return conversation, input_ids, instruction, token_refer_id


def interactive_prompt(tok, num_target):
    prefix_inst = "This is an image <image>, Please segment by given regions"
    regions_inst = " <region>," * (num_target - 1) + " <region>."
    sources_value = f"\nThis is all regions: {regions_inst}\n"
    conversation = get_prompt([("USER", prefix_inst + sources_value),
                               ("ASSISTANT", "\n[SEG]<seg>")])
    return conversation, tokenizer_special_tokens(conversation, tok)


# ---- llava_phi.py concat_image_seg_cls_embeds (transcribed, symbolic rows) ----------------------


def concat_image_seg_cls_embeds(input_id, label, class_name_ids, cls_indices, token_refer_id):
    """Rows are ('word', id) / ('image', k) / ('mask', q) / ('region', r); returns the rows and
    the bookkeeping lists of the upstream function (seg_query_mask, class_name_embedding_indices,
    region_embedding_mask, refer_embedding_indices, labels)."""
    img_feature = [("image", k) for k in range(NUM_IMAGE_TOKENS)]
    seg_query = [("mask", q) for q in range(NUM_MASK_TOKENS)]
    # embed_class_ids: split class_name_ids by cls_indices.unique_consecutive()
    class_embed = []
    if class_name_ids is not None:
        for c in sorted(set(cls_indices)):
            class_embed.append([("word", t) for t, i in zip(class_name_ids, cls_indices) if i == c])
    refer_embedding = [("word", t) for t in token_refer_id] if token_refer_id is not None else None
    region_count = sum(1 for i in input_id if i == REGION)
    region_feature_list = [[("region", r)] for r in range(region_count)]
    class_name_embedding_indices = [1 if i == CLS else 0 for i in input_id]
    refer_embedding_indices = [1 if i == REFER else 0 for i in input_id]
    region_embedding_mask = [0] * len(input_id)
    seg_query_mask = [0] * len(input_id)
    assert sum(1 for i in input_id if i == IMAGE) <= 1 and sum(1 for i in input_id if i == SEG) <= 1
    rows, new_seg, new_cls, new_region, new_refer, new_label = [], [], [], [], [], []
    chunks, current = [], []
    for i in input_id:
        if i >= 0:
            current.append(i)
        else:
            if current:
                chunks.append(current)
                current = []
            chunks.append([i])
    if current:
        chunks.append(current)
    cls_idx = 0
    region_idx = 0
    for chunk in chunks:
        n = len(chunk)

        def add(emb, seg, cls, region, refer):
            rows.extend(emb)
            new_seg.extend([seg] * len(emb))
            new_cls.extend([cls] * len(emb))
            new_region.extend([region] * len(emb))
            new_refer.extend([refer] * len(emb))
            new_label.extend([IGNORE_INDEX] * len(emb))

        if n == 1 and chunk[0] == IMAGE:
            add(img_feature, 0, 0, 0, 0)
        elif n == 1 and chunk[0] == SEG:
            add(seg_query, 1, 0, 0, 0)
        elif n == 1 and chunk[0] == CLS:
            cls_embed = class_embed[cls_idx]
            cls_idx += 1
            add(cls_embed, 0, cls_idx, 0, 0)
        elif n == 1 and chunk[0] == REGION:
            region_feature = region_feature_list[region_idx]
            region_idx += 1
            add(region_feature, 0, 0, 1, 0)
        elif n == 1 and chunk[0] == REFER:
            add(refer_embedding, 0, 0, 0, 1)
        else:
            rows.extend(("word", t) for t in input_id[:n])
            new_seg.extend(seg_query_mask[:n])
            new_cls.extend(class_name_embedding_indices[:n])
            new_region.extend(region_embedding_mask[:n])
            new_refer.extend(refer_embedding_indices[:n])
            new_label.extend(label[:n])
        input_id = input_id[n:]
        label = label[n:]
        seg_query_mask = seg_query_mask[n:]
        class_name_embedding_indices = class_name_embedding_indices[n:]
        refer_embedding_indices = refer_embedding_indices[n:]
        region_embedding_mask = region_embedding_mask[n:]
    return {
        "kind": [r[0] for r in rows],
        "value": [int(r[1]) for r in rows],
        "seg_query_mask": new_seg,
        "class_name_embedding_indices": new_cls,
        "region_embedding_mask": new_region,
        "refer_embedding_indices": new_refer,
        "labels": new_label,
    }


# ---- cases -------------------------------------------------------------------------------------

COCO_PANOPTIC = tokenizer_fixtures.COCO_PANOPTIC  # 133 names, dataset order
OPEN_VOCAB = ["traffic light", "fire hydrant", "person, child, girl, boy", "café table",
              "Ångström-scale dust", "São Paulo street sign", "日本の提灯", "wall-other-merged",
              "t-shirt (white)", "  double  spaced  ", "tab\tname", "emoji 🎉 balloon"]
SENTENCES = [
    ["the man on the left"],
    ["woman in red, holding an umbrella!", "lady (far right) with a hat?"],
    ["zebra #2 — behind the tree", "the one eating grass…", "Zürich tram, blue/white"],
    ["日本語の説明", "naïve café owner's dog"],
    ["  spaced   out  ", "tab\there", "[SEG] literal", "ends with period."],
]
CONVERSATIONS = [
    [("<image>\nWhat is in the picture?", "A cat sitting on a mat.")],
    [("Describe this <image> in detail, please.",
      "The image shows a busy street: cars, people and a red bus.\n\nThere are  two  dogs."),
     ("What colour is the bus?", "Red."),
     ("And the dogs' names? Guess.", "Maybe Rex and Fido — just guesses!")],
    [("Write a Python function that returns 42.",
      "def f():\n    return 42\n\n\tprint(f())  # tab-indented")],
    [("<image>\nWas ist auf dem Bild? 日本語でも答えて。", "Ein Hund. 犬です。"),
     ("Und davor?", "Nichts.")],
    [("<image>\nA tricky answer", "contains [/INST] in the middle")],  # upstream falls back
    [("<image>\nSegment the dog.", "Sure, [SEG]<seg>")],
]


def prompt_case(tok, name, kind, conversation, input_ids, extra):
    case = {"name": name, "kind": kind, "text": conversation, "ids": input_ids}
    case.update(extra)
    return case


def visual_prompt_cases():
    def draw_circle(mask, center, radius):  # coco_instance_mapper.py
        y, x = np.ogrid[:mask.shape[0], :mask.shape[1]]
        distance = np.sqrt((x - center[1]) ** 2 + (y - center[0]) ** 2)
        mask[distance <= radius] = 1

    def enhance_with_circles(binary_mask, radius):
        binary_mask = np.array(binary_mask).astype(np.uint8)
        output_mask = np.zeros_like(binary_mask, dtype=np.uint8)
        for point in np.argwhere(binary_mask == 1):
            draw_circle(output_mask, (point[0], point[1]), radius)
        return output_mask

    def output_shape(h, w, short, max_size):  # detectron2 ResizeShortestEdge.get_output_shape
        scale = short * 1.0 / min(h, w)
        if h < w:
            newh, neww = short, scale * w
        else:
            newh, neww = scale * h, short
        if max(newh, neww) > max_size:
            scale = max_size * 1.0 / max(newh, neww)
            newh, neww = newh * scale, neww * scale
        return int(newh + 0.5), int(neww + 0.5)

    def resize_pad(mask, target):
        h, w = output_shape(mask.shape[0], mask.shape[1], target, target)
        resized = np.asarray(Image.fromarray(mask).resize((w, h), Image.NEAREST))
        return np.pad(resized, ((0, target - h), (0, target - w)), constant_values=0)

    def rnd(v):
        return int(math.floor(v + 0.5))

    rng = np.random.default_rng(7)
    cases = []
    for (h0, w0, target) in [(37, 53, 32), (20, 13, 48), (64, 64, 64), (90, 41, 40)]:
        prompts, masks = [], []
        # point: clicks, one near a corner (disc clipped), one with fractional coordinates
        pts = [(rng.integers(0, w0), rng.integers(0, h0)), (0, h0 - 1), (w0 - 1.4, 2.5)]
        seeds = np.zeros((h0, w0), np.uint8)
        for x, y in pts:
            seeds[rnd(y), rnd(x)] = 1
        prompts.append({"kind": "point", "points": [[float(x), float(y)] for x, y in pts]})
        masks.append(enhance_with_circles(seeds, 10))
        # scribble: a polyline with steep, shallow, diagonal and backward segments
        verts = [(1, 1), (w0 // 2, h0 - 2), (w0 - 1, h0 // 3), (w0 // 3, h0 // 3 + 1),
                 (w0 // 3 + 2, 0)]
        seeds = np.zeros((h0, w0), np.uint8)
        seeds[verts[0][1], verts[0][0]] = 1
        for (xa, ya), (xb, yb) in zip(verts[:-1], verts[1:]):
            rr, cc = sk_line(ya, xa, yb, xb)
            seeds[rr, cc] = 1
        prompts.append({"kind": "scribble", "points": [[float(x), float(y)] for x, y in verts]})
        masks.append(enhance_with_circles(seeds, 5))
        # box: corners given bottom-right first (any order), inclusive
        x0, x1 = sorted(rng.integers(0, w0, size=2))
        y0, y1 = sorted(rng.integers(0, h0, size=2))
        box = np.zeros((h0, w0), np.uint8)
        box[y0:y1 + 1, x0:x1 + 1] = 1
        prompts.append({"kind": "box", "points": [[float(x1), float(y1)], [float(x0), float(y0)]]})
        masks.append(box)
        # mask: a random blob with holes, values other than 1 count as inside
        yy, xx = np.mgrid[:h0, :w0]
        blob = (((xx - w0 * 0.6) / (w0 * 0.3)) ** 2 + ((yy - h0 * 0.4) / (h0 * 0.35)) ** 2 < 1)
        blob &= ((xx + yy) % 5 != 0)
        given = (blob * 255).astype(np.uint8)
        prompts.append({"kind": "mask", "mask": "".join("1" if v else "0" for v in given.ravel())})
        masks.append(blob.astype(np.uint8))
        out = [resize_pad(m, target) for m in masks]
        cases.append({
            "height": h0, "width": w0, "target": target, "prompts": prompts,
            "original": ["".join(str(int(v)) for v in m.ravel()) for m in masks],
            "masks": ["".join(str(int(v)) for v in m.ravel()) for m in out],
        })
    return cases


def pooling_cases():
    """region_pooling.extract_region_feature + AdaptiveAvgPool1d on fixed points, float64."""
    cases = []
    gen = torch.Generator().manual_seed(11)
    for (g, d, k, p) in [(4, 6, 3, 7), (3, 5, 2, 4), (16, 8, 2, 256)]:
        t = g * 16
        tokens = torch.randn(g * g, d, generator=gen, dtype=torch.float64, requires_grad=True)
        # points as upstream makes them: nonzero() / (H, W) of a T x T mask, flipped to (x, y)
        rows = torch.randint(0, t, (k, p), generator=gen)
        cols = torch.randint(0, t, (k, p), generator=gen)
        cols[0, 0], rows[0, 0] = t - 1, t - 1  # the far corner
        cols[0, 1], rows[0, 1] = 0, 0
        pos = torch.stack([rows, cols], dim=-1).to(torch.float32) / torch.tensor([t, t])[None, ]
        points = pos.flip(dims=(2,)).to(torch.float64)  # (K, P, 2) = (x, y)
        h = w = int(math.sqrt(tokens.shape[0]))
        fmap = tokens.reshape(h, w, d).permute(2, 0, 1).unsqueeze(0).repeat(k, 1, 1, 1)
        sampled = F.grid_sample(fmap, (2.0 * points - 1.0).unsqueeze(2), align_corners=True)
        sampled = sampled.squeeze(3).transpose(-2, -1)  # (K, P, D)
        pooled = torch.nn.AdaptiveAvgPool1d(1)(sampled.transpose(-2, -1)).transpose(-2, -1)
        pooled = pooled.squeeze(1)  # (K, D)
        d_out = torch.randn(pooled.shape, generator=gen, dtype=torch.float64)
        pooled.backward(d_out)
        cases.append({
            "grid": g, "side": t,
            "tokens": {"shape": list(tokens.shape), "data": tokens.detach().flatten().tolist()},
            "pixels": {"shape": [k, p, 2], "data": torch.stack([rows, cols], -1).flatten().tolist()},
            "points": {"shape": [k, p, 2], "data": points.flatten().tolist()},
            "out": {"shape": list(pooled.shape), "data": pooled.detach().flatten().tolist()},
            "d_out": {"shape": list(d_out.shape), "data": d_out.flatten().tolist()},
            "d_tokens": {"shape": list(tokens.shape), "data": tokens.grad.flatten().tolist()},
        })
    return cases


def main():
    tok = tokenizer_fixtures.build_transformers()
    seg = tok.convert_tokens_to_ids("[SEG]")
    assert seg == 50296 and tok.pad_token_id == 50295
    cases = []
    for name, names, shuffle_seed, words in [
            ("panoptic_coco", COCO_PANOPTIC + ["background"], None, "Panoptic Segmentation"),
            ("panoptic_coco_shuffled", COCO_PANOPTIC + ["background"], 3, "Panoptic Segmentation"),
            ("open_vocab_shuffled", OPEN_VOCAB + ["background"], 5, "Panoptic Segmentation"),
            ("semantic_wording", OPEN_VOCAB[:4] + ["background"], None, "Semantic Segmentation"),
            ("single_class", ["background"], None, "Panoptic Segmentation")]:
        rng = random.Random(shuffle_seed) if shuffle_seed is not None else None
        conv, ids, flat, cls_indices, random_idx, permute_idx = class_prompt(tok, names, rng, words)
        layout = concat_image_seg_cls_embeds(ids, [IGNORE_INDEX] * len(ids), flat, cls_indices,
                                             None)
        per_class = [[t for t, i in zip(flat, cls_indices) if i == c][:-1]
                     for c in range(len(names))]
        cases.append(prompt_case(tok, name, "class", conv, ids, {
            "class_names": names[:-1], "task_words": words, "prompt_order": random_idx,
            "permute_idx": permute_idx, "class_name_ids": per_class, "layout": layout}))
    for i, sentences in enumerate(SENTENCES):
        conv, ids, instruction, refer = refer_prompt(tok, sentences)
        layout = concat_image_seg_cls_embeds(ids, [IGNORE_INDEX] * len(ids), None, None, refer)
        cases.append(prompt_case(tok, f"referring_{i}", "referring", conv, ids, {
            "sentences": sentences, "instruction": instruction, "refer_ids": refer[:-1],
            "layout": layout}))
    for k in (1, 2, 7):
        conv, ids = interactive_prompt(tok, k)
        layout = concat_image_seg_cls_embeds(ids, [IGNORE_INDEX] * len(ids), None, None, None)
        cases.append(prompt_case(tok, f"interactive_{k}", "interactive", conv, ids,
                                 {"num_regions": k, "layout": layout}))
    for i, turns in enumerate(CONVERSATIONS):
        conv, ids, labels, mismatch = mm_conv_preprocess(turns, tok)
        layout = concat_image_seg_cls_embeds(ids, labels, None, None, None)
        cases.append(prompt_case(tok, f"conversation_{i}", "conversation", conv, ids, {
            "turns": [list(t) for t in turns], "labels": labels, "mismatch": mismatch,
            "layout": layout}))
    data = {
        "seg_token_id": seg, "pad_token_id": tok.pad_token_id, "vocab_size": len(tok),
        "num_image_tokens": NUM_IMAGE_TOKENS, "num_mask_tokens": NUM_MASK_TOKENS,
        "model_max_length": MODEL_MAX_LENGTH, "cases": cases,
        "visual_prompts": visual_prompt_cases(), "pooling": pooling_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} prompt cases)")


if __name__ == "__main__":
    main()
