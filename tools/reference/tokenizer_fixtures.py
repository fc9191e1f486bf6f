"""Reference fixtures for psalm's Phi-1.5 / PSALM tokenizer (tests/io/test_tokenizer*.cpp).

Reference: Hugging Face `tokenizers` (Rust) built from the GPT-2 files in
third_party/gpt2-bpe (encoder.json = vocab.json, vocab.bpe = merges.txt) with a ByteLevel
pre-tokenizer (add_prefix_space=False) and ByteLevel decoder, plus the added tokens of Phi-1.5
(CodeGen: <|endoftext|> special; 31..2 spaces and 9..2 tabs, normalized, not special) and of
PSALM ([PAD] special via add_special_tokens({'pad_token'}), [SEG] via add_tokens). A second,
independent construction through transformers' CodeGenTokenizer (add_special_tokens /
add_tokens exactly as psalm/train/train.py does) must give the same ids for every string.
The real microsoft/phi-1_5 files cannot be downloaded here.

Writes (deterministic, seeded):
  tests/fixtures/tokenizer/cases.json        strings -> ids (+ decode with skip_special_tokens)
  tests/fixtures/tokenizer/added_tokens.json  lstrip / rstrip / single_word / two-pass cases
  tests/fixtures/tokenizer/char_classes.json  per-code-point class of the GPT-2 pre-tokenizer
                                          (letter / number / space / other) as ranges

Usage: tools/reference/.venv/bin/python tools/reference/tokenizer_fixtures.py
"""

import json
import os
import random
import sys

import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPT2 = os.path.join(ROOT, "third_party", "gpt2-bpe")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")

SYSTEM = ("You are a helpful language and vision assistant. You are able to understand the visual "
          "content that the user provides, and assist the user with a variety of tasks using "
          "natural language.")

COCO_PANOPTIC = (
    "person,bicycle,car,motorcycle,airplane,bus,train,truck,boat,traffic light,fire hydrant,"
    "stop sign,parking meter,bench,bird,cat,dog,horse,sheep,cow,elephant,bear,zebra,giraffe,"
    "backpack,umbrella,handbag,tie,suitcase,frisbee,skis,snowboard,sports ball,kite,baseball bat,"
    "baseball glove,skateboard,surfboard,tennis racket,bottle,wine glass,cup,fork,knife,spoon,"
    "bowl,banana,apple,sandwich,orange,broccoli,carrot,hot dog,pizza,donut,cake,chair,couch,"
    "potted plant,bed,dining table,toilet,tv,laptop,mouse,remote,keyboard,cell phone,microwave,"
    "oven,toaster,sink,refrigerator,book,clock,vase,scissors,teddy bear,hair drier,toothbrush,"
    "banner,blanket,bridge,cardboard,counter,curtain,door-stuff,floor-wood,flower,fruit,gravel,"
    "house,light,mirror-stuff,net,pillow,platform,playingfield,railroad,river,road,roof,sand,sea,"
    "shelf,snow,stairs,tent,towel,wall-brick,wall-stone,wall-tile,wall-wood,water-other,"
    "window-blind,window-other,tree-merged,fence-merged,ceiling-merged,sky-other-merged,"
    "cabinet-merged,table-merged,floor-other-merged,pavement-merged,mountain-merged,grass-merged,"
    "dirt-merged,paper-merged,food-other-merged,building-other-merged,rock-merged,"
    "wall-other-merged,rug-merged").split(",")

ADE20K = (
    "wall,building,sky,floor,tree,ceiling,road,bed,windowpane,grass,cabinet,sidewalk,person,earth,"
    "door,table,mountain,plant,curtain,chair,car,water,painting,sofa,shelf,house,sea,mirror,rug,"
    "field,armchair,seat,fence,desk,rock,wardrobe,lamp,bathtub,railing,cushion,base,box,column,"
    "signboard,chest of drawers,counter,sand,sink,skyscraper,fireplace,refrigerator,grandstand,"
    "path,stairs,runway,case,pool table,pillow,screen door,stairway,river,bridge,bookcase,blind,"
    "coffee table,toilet,flower,book,hill,bench,countertop,stove,palm,kitchen island,computer,"
    "swivel chair,boat,bar,arcade machine,hovel,bus,towel,light,truck,tower,chandelier,awning,"
    "streetlight,booth,television receiver,airplane,dirt track,apparel,pole,land,bannister,"
    "escalator,ottoman,bottle,buffet,poster,stage,van,ship,fountain,conveyer belt,canopy,washer,"
    "plaything,swimming pool,stool,barrel,basket,waterfall,tent,bag,minibike,cradle,oven,ball,"
    "food,step,tank,trade name,microwave,pot,animal,bicycle,lake,dishwasher,screen,blanket,"
    "sculpture,hood,sconce,vase,traffic light,tray,ashcan,fan,pier,crt screen,plate,monitor,"
    "bulletin board,shower,radiator,glass,clock,flag").split(",")

MARKERS = ("<image>", "<seg>", "<cls>", "<region>", "<refer>")


def build_reference():
    tok = Tokenizer(models.BPE.from_file(os.path.join(GPT2, "encoder.json"),
                                         os.path.join(GPT2, "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    ws = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    tok.add_tokens([AddedToken(w, special=False, normalized=True) for w in ws])
    tok.add_special_tokens([AddedToken("[PAD]", special=True, normalized=False)])
    tok.add_tokens([AddedToken("[SEG]", special=False, normalized=True)])
    assert tok.token_to_id("  ") == 50286 and tok.token_to_id("\t\t") == 50294
    assert tok.token_to_id("[PAD]") == 50295 and tok.token_to_id("[SEG]") == 50296
    assert tok.get_vocab_size() == 50297
    return tok


def build_transformers():
    with open(os.path.join(GPT2, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(GPT2, "vocab.bpe"), encoding="utf-8") as f:
        merges = [tuple(l.rstrip("\n").split(" ")) for l in f
                  if l.strip() and not l.startswith("#version")]
    tok = transformers.CodeGenTokenizer(vocab=vocab, merges=merges)
    ws = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    tok.add_tokens([transformers.AddedToken(w, normalized=True, special=False) for w in ws])
    tok.add_special_tokens({"pad_token": "[PAD]"})  # psalm/train/train.py
    tok.add_tokens("[SEG]")
    assert len(tok) == 50297, len(tok)
    return tok


def psalm_prompts(rng):
    def render(user, assistant):
        return ("[INST] <<SYS>>\n" + SYSTEM + "\n<</SYS>>\n\n" + user + " [/INST] " + assistant +
                " <|endoftext|>")

    out = []
    classes = COCO_PANOPTIC + ["background"]
    cats = "<cls>, " * (len(classes) - 1) + "<cls>."
    pan = ("This is an image <image>, Please do Panoptic Segmentation.\nThis is all the candidate "
           "categories: " + cats + "\n")
    out.append(render(pan, "\nSure, the segmentation result is <seg>"))
    sem = pan.replace("Panoptic", "Semantic")
    out.append(render(sem, "\nSure, the segmentation result is <seg>"))
    for sentences in (["the man on the left"], ["woman in red", "lady holding an umbrella"],
                      ["zebra far right", "zebra behind", "the one eating grass"]):
        instruction = "".join(" " + s + "." for s in sentences)
        user = ("This is an image <image>, Please doing Referring Segmentation according to the "
                "following instruction:\n<refer>")
        out.append(render(user, "\nSure, the segmentation result is <seg>"))
        out.append(instruction)
        out.append(instruction + "[SEG]")
    for k in (1, 2, 5):
        regions = " <region>," * (k - 1) + " <region>."
        user = ("This is an image <image>, Please segment by given regions\nThis is all regions: " +
                regions + "\n")
        out.append(render(user, "\n[SEG]<seg>"))
    # What PSALM really encodes: the chunks between markers of each rendered prompt.
    chunks = []
    for prompt in list(out):
        piece = prompt
        for m in MARKERS:
            piece = piece.replace(m, "\x00")
        chunks += [c for c in piece.split("\x00") if c]
    out += sorted(set(chunks), key=chunks.index)
    out.append("[INST] <<SYS>>\n" + SYSTEM + "\n<</SYS>>\n\n")
    out.append(" [/INST] ")
    out.append(" <|endoftext|>")
    shuffled = classes[:]
    rng.shuffle(shuffled)
    out.append(", ".join(shuffled[:20]))
    return out


HANDWRITTEN = [
    "", " ", "  ", "   ", "a", "Hello world", "Hello  world", "Hello   world", " Hello", "Hello ",
    "hello\nworld", "hello\n\nworld", "hello \n world", "line1\r\nline2\r\n", "\n", "\n\n\n",
    "\t", "\t\t", "\t\t\t", "\t \t", " \t\t x", "x\t\ty", "end with spaces   ", "   lead",
    " " * 31, " " * 32, " " * 40, " " * 62, " " * 63 + "x", "\t" * 9, "\t" * 10, "\t" * 19 + "x",
    "I'm here. You're there. We've done it. They'll come. He'd go. It's fine. Don't.",
    "I'M LOUD. DON'T. She'S", "'s 't 're 've 'm 'll 'd", "''s", "rock 'n' roll", "' '", "x's'",
    "def f(x):\n    return x + 1\n", "class A:\n\tdef g(self):\n\t\treturn 42\n",
    "int main() {\n  for (int i = 0; i < 10; ++i) {\n    printf(\"%d\\n\", i);\n  }\n}\n",
    "if (a &&b||c) { x-->0; y<<=2; }", "    \t    mixed\t \t indentation",
    "3.14159", "1,000,000", "2024-06-01T12:30:00Z", "0x7fff_ffff", "1e-9", "v1.2.3", "42nd",
    "１２３４５", "٣٤٥", "Ⅻ", "½ + ¼ = ¾", "x² + y³", "10km/h", "$19.99", "€5", "100%",
    "!!!", "???!!!", "...", "…", "-->", "===", "***bold***", "~~~", "@#$%^&*()", "(((nested)))",
    "«quoted»", "“smart quotes”", "‘single’", "—em dash—", "a-b_c.d/e\\f",
    "café", "cafe\u0301", "naïve résumé", "Ångström", "São Paulo", "Zürich", "Ελληνικά",
    "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย", "日本語のテキスト", "中文，标点。",
    "你好，世界！", "한국어 문장", "Tiếng Việt", "ﬁ ligature", "İstanbul", "ß", "ǅ",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "emoji 🎉 party 🎉🎉", "❤️", "🤖🦾", "☕ coffee",
    "a\u00a0b", "a\u2003b", "a\u3000b", "a\u0085b", "a\u2028b", "a\u2029b", "a\u200bb",
    "a\u180eb", "a\x0bb", "a\x0cb", "a\x1cb", "a\x1fb", "a\u202fb", "a\u205fb", "a\u1680b",
    "\u00a0\u00a0x", " \u00a0x", "\u00a0 x", "x \u3000 y", "tab\u00a0\tmix",
    "<|endoftext|>", "<|endoftext|><|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ",
    "<|endoftext", "|endoftext|>", "<|endo<|endoftext|>", "[SEG]", "[SEG][SEG]", " [SEG] ",
    "x[SEG]y", "[SE", "[SEG", "[[SEG]]", "[PAD]", "[PAD][SEG]", "[pad]", "[seg]",
    "<image>", "<seg>", "<cls>", "<region>", "<refer>", "<im_start><im_end>",
    "  [SEG]  ", "\t[SEG]\t", "  <|endoftext|>  ", "[SEG]  <|endoftext|>",
    "The quick brown fox jumps over the lazy dog.",
    "PSALM extends a large multi-modal model with a mask decoder.",
    "Segment the person riding the horse, please.",
    "A photo of a dog and a cat sitting on a couch next to a potted plant.",
    "Transformers (formerly known as pytorch-transformers) provides general-purpose architectures.",
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "aaaaaaaaaaaaaaaaaaaa",
    "abababababababababab", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", "ーーーー", "0000000000000000",
    "https://example.com/path?q=1&r=two#frag", "user@example.com", "C:\\Users\\psalm\\file.txt",
    "{\"key\": [1, 2, {\"nested\": null}]}", "<div class=\"x\">text</div>", "SELECT * FROM t;",
    "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$", "a\u0000b", "\x7f", "tab\tseparated\tvalues\n",
]


def random_strings(rng, count):
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3 +
            list(" " * 30) + list("\t" * 6) + list("\n" * 6) + list("'.,;:!?-_()[]{}<>/\\\"#") +
            ["'s", "'ll", "'re", "[SEG]", "[PAD]", "<|endoftext|>", "  ", "    ", "\t\t", "\r\n",
             "é", "e\u0301", "ß", "Ω", "я", "中", "語", "한", "ع", "ह", "🎉", "👍🏽", "\u00a0",
             "\u3000", "\u2028", "１", "½", "…", "“", "—", "\u200b", "\u0085", "ǅ"])
    out = []
    for _ in range(count):
        n = rng.randint(1, 40)
        out.append("".join(rng.choice(pool) for _ in range(n)))
    return out


ADDED_CONFIGS = [
    # (tokens: (content, single_word, lstrip, rstrip, normalized, special), texts)
    ([("<mask>", True, True, True, True, False)],
     ["Hi <mask> there\t<mask>\t<mask>\u2000", "<mask> My name <mask> A<mask> <mask>ony <mask>",
      "<mask>, <mask>- \u25cc\u0330<mask>", "x  <mask>  y", "  <mask>", "<mask>  ", "a<mask>",
      "_<mask>", "1<mask>", "\u00e9<mask>", "<mask>\u00e9", "<mask><mask>", " <mask> <mask> "]),
    ([("[CLS]", False, False, False, False, True), ("[SEP]", False, False, False, False, True),
      ("my", False, True, True, True, False), ("name", False, False, False, True, False),
      ("ony", True, False, False, True, False)],
     ["[CLS] my name is anthony [SEP]", "[CLS] My name is Anthony [SEP]", "myname", " my  my ",
      "tony ony ony", "[CLS][SEP]my"]),
    ([("ab", False, False, False, True, False), ("bc", False, False, False, False, False),
      ("abcd", False, False, False, True, False), ("abc", False, False, False, True, False)],
     ["abc", "abcd", "xabcdx", "ababc", "bcd", "aabcabcd"]),
    ([("<L>", False, True, False, False, True), ("<R>", False, False, True, True, False)],
     ["a <L> b", "a <R> b", "a  <L><R>  b", "<R>\t\n x", "x \u3000<L>", "<R> <L>"]),
]


def added_token_cases():
    out = []
    for tokens, texts in ADDED_CONFIGS:
        tok = Tokenizer(models.BPE.from_file(os.path.join(GPT2, "encoder.json"),
                                             os.path.join(GPT2, "vocab.bpe")))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
        specs = []
        for content, single_word, lstrip, rstrip, normalized, special in tokens:
            t = AddedToken(content, single_word=single_word, lstrip=lstrip, rstrip=rstrip,
                           normalized=normalized, special=special)
            (tok.add_special_tokens if special else tok.add_tokens)([t])
            specs.append({"content": content, "single_word": single_word, "lstrip": lstrip,
                          "rstrip": rstrip, "normalized": normalized, "special": special,
                          "id": tok.token_to_id(content)})
        out.append({"tokens": specs,
                    "texts": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids}
                              for t in texts]})
    return out


def char_classes(pre):
    """Class of every code point under the ByteLevel regex, probed through pre_tokenize_str:
    "a"+c is one piece iff c is a letter, "1"+c iff a number, "!"+c iff other; else space."""
    ranges = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if len(pre.pre_tokenize_str("a" + c)) == 1:
            cls = "letter"
        elif len(pre.pre_tokenize_str("1" + c)) == 1:
            cls = "number"
        elif len(pre.pre_tokenize_str("!" + c)) == 1:
            cls = "other"
        else:
            cls = "space"
        if ranges and ranges[-1][2] == cls and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, cls])
    # Surrogates are not characters; fold them into the surrounding "other" ranges is wrong,
    # so the reader skips U+D800-DFFF.
    return ranges


def main():
    rng = random.Random(20240601)
    ref = build_reference()
    hf = build_transformers()
    texts = psalm_prompts(rng) + COCO_PANOPTIC + ["background"] + ADE20K + HANDWRITTEN
    texts += random_strings(rng, 200)
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    cases = []
    for t in unique:
        ids = ref.encode(t, add_special_tokens=False).ids
        ids_hf = hf.encode(t, add_special_tokens=False)
        if ids != ids_hf:
            sys.exit(f"tokenizers and transformers disagree on {t!r}: {ids} vs {ids_hf}")
        assert ref.decode(ids, skip_special_tokens=False) == t, t
        case = {"text": t, "ids": ids}
        skipped = ref.decode(ids, skip_special_tokens=True)
        if skipped != t:
            case["decoded_skip_special"] = skipped
        cases.append(case)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": f"tokenizers {tokenizers.__version__} (cross-checked with "
                                f"transformers {transformers.__version__} CodeGenTokenizer)",
                   "tokenizer": "GPT-2 encoder.json/vocab.bpe + Phi-1.5 whitespace tokens + "
                                "[PAD] + [SEG]",
                   "cases": cases}, f, ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "added_tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": f"tokenizers {tokenizers.__version__}",
                   "configs": added_token_cases()}, f, ensure_ascii=False, indent=1)
    ranges = char_classes(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    with open(os.path.join(OUT, "char_classes.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": f"tokenizers {tokenizers.__version__} ByteLevel pre-tokenizer",
                   "ranges": ranges}, f, separators=(",", ":"))
    print(f"{len(cases)} cases, {len(ranges)} class ranges")


if __name__ == "__main__":
    main()
