#!/usr/bin/python3
"""Rendered text for judging `mbn quantize` on PaddleOCR (DejaVu fonts, PIL; deterministic). Writes to OUT (argument,
default /tmp/mbn-ocr-eval):

    det_calib/NN.npy  [1, 3, 640, 640]  8 text pages for calibration, ImageNet mean/std (PaddleOCR det)
    det_eval/NN.npy   [1, 3, 640, 640]  4 other pages for the IoU check
    rec_calib/NN.npy  [1, 3, 48, 320]   16 text lines for calibration, (x/255 - 0.5)/0.5 (PaddleOCR rec)
    rec_eval/NN.npy   [1, 3, 48, 320]   the 48 words of EVAL_WORDS, one per image; rec_eval/words.txt their text
"""
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = '/usr/share/fonts/truetype/dejavu'
FACES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansCondensed.ttf']
EVAL_WORDS = ('harbour window quantize garden 2048 bicycle mountain 07:30 lantern silver coffee ticket '
              'Monday river 19.99 planet orange market bridge candle forest 3500 yellow doctor '
              'library tunnel summer 42kg engine violet pocket island museum castle 1987 thunder '
              'basket rocket mirror 88.5 winter pencil garage travel meadow copper 5G kitchen').split()
CALIB_WORDS = ('invoice total amount date street road station receipt price qty tax cash card change thank you '
               'open close exit entry 2024 17:45 No. 0815 EUR 12,50 Mobile Net depthwise pointwise layer').split()
assert len(EVAL_WORDS) == 48
rng = random.Random(20)
OUT = sys.argv[1] if len(sys.argv) > 1 else '/tmp/mbn-ocr-eval'


def font(size):
    return ImageFont.truetype(os.path.join(FONTS, rng.choice(FACES)), size)


def page(words):
    w = h = 640
    base = rng.randint(190, 250)
    img = Image.new('RGB', (w, h), tuple(max(0, min(255, base + rng.randint(-20, 20))) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    y = rng.randint(10, 40)
    while y < h - 60:
        size = rng.randint(18, 44)
        line = ' '.join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        draw.text((rng.randint(10, 200), y), line, font=font(size), fill=tuple(rng.randint(0, 80) for _ in range(3)))
        y += int(size * rng.uniform(1.6, 2.6))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def line(text):
    size = 36
    f = font(size)
    left, top, right, bottom = f.getbbox(text)
    img = Image.new('RGB', (right + 16, 48), tuple([rng.randint(215, 250)] * 3))
    ImageDraw.Draw(img).text((8, (48 - (bottom + top)) // 2), text, font=f, fill=tuple([rng.randint(0, 60)] * 3))
    if img.width > 320:
        img = img.resize((320, 48))
    canvas = Image.new('RGB', (320, 48), (0, 0, 0))
    canvas.paste(img, (0, 0))
    x = (np.asarray(canvas, dtype=np.float32) / 255.0 - 0.5) / 0.5
    if img.width < 320:
        x[:, img.width:, :] = 0.0  # PaddleOCR pads the normalised image with zeros
    return x.transpose(2, 0, 1)[None].astype(np.float32)


for name in ['det_calib', 'det_eval', 'rec_calib', 'rec_eval']:
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
for i in range(8):
    np.save(os.path.join(OUT, 'det_calib', f'{i:02d}.npy'), page(CALIB_WORDS))
for i in range(4):
    np.save(os.path.join(OUT, 'det_eval', f'{i:02d}.npy'), page(EVAL_WORDS))
for i in range(16):
    np.save(os.path.join(OUT, 'rec_calib', f'{i:02d}.npy'), line(' '.join(rng.choice(CALIB_WORDS) for _ in range(rng.randint(1, 2)))))
for i, word in enumerate(EVAL_WORDS):
    np.save(os.path.join(OUT, 'rec_eval', f'{i:02d}.npy'), line(word))
with open(os.path.join(OUT, 'rec_eval', 'words.txt'), 'w') as f:
    f.write('\n'.join(EVAL_WORDS) + '\n')
print(OUT)
