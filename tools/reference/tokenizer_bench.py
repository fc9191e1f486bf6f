"""Baseline for benchmarks/tokenizer.cpp: Hugging Face `tokenizers` (Rust, single thread).

Builds a deterministic ~10 MB mixed corpus (English-like prose with many distinct words, code
with tabs and space runs, PSALM prompts, numbers, punctuation, accented / CJK / emoji text, the
fixture strings of tests/fixtures/tokenizer/cases.json), writes it to CORPUS (documents separated
by the byte 0x1E), encodes it with the same tokenizer as tokenizer_fixtures.py (GPT-2 + Phi-1.5
whitespace tokens + [PAD] + [SEG]) and writes a JSON baseline: corpus path, size and FNV-1a
hash, token count and FNV-1a hash of all ids (so the C++ program checks it produced the very
same ids), and MB/s (best of 3 warm passes, and the first, cold pass).

Usage:
  tools/reference/.venv/bin/python tools/reference/tokenizer_bench.py \
      --corpus /tmp/psalm_tok_corpus.txt --out /tmp/psalm_tok_baseline.json
  build/benchmarks/bench_tokenizer --baseline /tmp/psalm_tok_baseline.json
"""

import argparse
import json
import os
import random
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import tokenizers  # noqa: E402

import tokenizer_fixtures  # noqa: E402

TARGET_BYTES = 10 * 1000 * 1000
SEP = "\x1e"


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def make_corpus(rng, fixtures):
    onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
              "w", "st", "tr", "pl", "br", "ch", "sh", "th", "gr", "cl"]
    nuclei = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee", "oo", "y"]
    codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "ss"]
    lexicon = []
    for _ in range(60000):
        word = "".join(rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas)
                       for _ in range(rng.randint(1, 4)))
        lexicon.append(word)
    common = ("the of and to in is was that for on with as by at from this it be are an "
              "or which not have has but were their they can all one more").split()
    foreign = ["café crème", "naïve façade", "Zürich Straße", "São João", "Ελληνικά κείμενα",
               "русский язык", "日本語の文章です。", "中文文本，标点符号。", "한국어 문장입니다",
               "العربية", "हिन्दी पाठ", "emoji 🎉👍🏽😀", "∑ x² ≤ ½"]

    def prose():
        words = []
        for _ in range(rng.randint(80, 600)):
            r = rng.random()
            w = rng.choice(common) if r < 0.45 else rng.choice(lexicon)
            if rng.random() < 0.08:
                w = w.capitalize()
            if rng.random() < 0.03:
                w += rng.choice(["'s", "'t", "'ll", "n't"])
            if rng.random() < 0.03:
                w = str(rng.randint(0, 10 ** rng.randint(1, 7)))
            if rng.random() < 0.02:
                w = rng.choice(foreign)
            words.append(w)
            if rng.random() < 0.08:
                words[-1] += rng.choice([".", ",", ";", ":", "!", "?", "...", ")"])
            if rng.random() < 0.01:
                words[-1] += "\n\n"
        return " ".join(words)

    def code():
        lines = []
        depth = 0
        indent = rng.choice(["    ", "\t", "  "])
        for _ in range(rng.randint(20, 120)):
            name = rng.choice(lexicon)
            stmt = rng.choice([f"{name} = {rng.randint(0, 999)}", f"if {name} > 0:",
                               f"return {name}({rng.choice(lexicon)}, {rng.random():.3f})",
                               f"for i in range({name}):", f"# {rng.choice(lexicon)} comment",
                               f"{name}[i] += {name}[i - 1] * 2", "pass", ""])
            lines.append(indent * depth + stmt)
            depth = max(0, min(6, depth + (1 if stmt.endswith(":") else -rng.randint(0, 1))))
        return "\n".join(lines) + "\n"

    docs, size = [], 0
    fixture_texts = [t for t in fixtures if SEP not in t]
    while size < TARGET_BYTES:
        r = rng.random()
        if r < 0.55:
            doc = prose()
        elif r < 0.85:
            doc = code()
        else:
            doc = "\n".join(rng.sample(fixture_texts, 20))
        docs.append(doc)
        size += len(doc.encode("utf-8")) + 1
    return docs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/tmp/psalm_tok_corpus.txt")
    parser.add_argument("--out", default="/tmp/psalm_tok_baseline.json")
    args = parser.parse_args()

    root = tokenizer_fixtures.ROOT
    with open(os.path.join(root, "tests", "fixtures", "tokenizer", "cases.json"), encoding="utf-8") as f:
        fixtures = [c["text"] for c in json.load(f)["cases"]]
    docs = make_corpus(random.Random(7), fixtures)
    data = SEP.join(docs).encode("utf-8")
    with open(args.corpus, "wb") as f:
        f.write(data)

    tok = tokenizer_fixtures.build_reference()
    mb = len(data) / 1e6
    times = []
    encodings = None
    for _ in range(4):
        t0 = time.perf_counter()
        encodings = tok.encode_batch(docs, add_special_tokens=False)
        times.append(time.perf_counter() - t0)
    ids = [i for e in encodings for i in e.ids]
    ids_bytes = b"".join(i.to_bytes(4, "little", signed=True) for i in ids)
    result = {
        "reference": f"tokenizers {tokenizers.__version__} encode_batch, 1 thread",
        "corpus_file": os.path.abspath(args.corpus),
        "corpus_bytes": len(data),
        "corpus_fnv1a": f"{fnv1a(data):016x}",
        "documents": len(docs),
        "tokens": len(ids),
        "ids_fnv1a": f"{fnv1a(ids_bytes):016x}",
        "cold_mb_per_s": mb / times[0],
        "warm_mb_per_s": mb / min(times[1:]),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
