#!/usr/bin/python3
"""Calibration batches with real signal for the PaddleOCR fixtures: rendered text (DejaVu fonts, PIL), saved as
float16 .npy files, normalised as PaddleOCR does. Deterministic (seeded). Run from the repository root:

    /usr/bin/python3 scripts/make-calibration.py

fixtures/calibration/ppocr_det/NN.npy  [1, 3, 96, 96]   text blocks, ImageNet mean/std (PaddleOCR det)
fixtures/calibration/ppocr_cls/NN.npy  [1, 3, 48, 192]  one text line each, half upside down, (x/255 − 0.5)/0.5 (cls)
"""
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = '/usr/share/fonts/truetype/dejavu'
FACES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansCondensed.ttf']
WORDS = ('invoice total amount date street road station receipt price qty tax cash card change thank you '
         'open close exit entry 2024 17:45 No. 0815 EUR 12,50 Mobile Net depthwise pointwise layer').split()
rng = random.Random(11)


def font(size):
    return ImageFont.truetype(os.path.join(FONTS, rng.choice(FACES)), size)


def background(w, h):
    base = rng.randint(170, 250)
    tint = [max(0, min(255, base + rng.randint(-25, 25))) for _ in range(3)]
    img = Image.new('RGB', (w, h), tuple(tint))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(0, 3)):  # faint boxes and rules, as on forms and signs
        x0, y0 = rng.randint(0, w - 1), rng.randint(0, h - 1)
        draw.rectangle([x0, y0, x0 + rng.randint(5, w), y0 + rng.randint(1, 6)], fill=tuple(max(0, t - rng.randint(20, 60)) for t in tint))
    return img, draw


def ink():
    return tuple(rng.randint(0, 90) for _ in range(3))


def det_image(size=96):
    img, draw = background(size, size)
    y = rng.randint(0, 10)
    while y < size - 8:
        f = font(rng.randint(9, 20))
        text = ' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        draw.text((rng.randint(-5, 30), y), text, font=f, fill=ink())
        y += f.size + rng.randint(3, 14)
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return x.transpose(2, 0, 1)[None]


def cls_image(flip):
    img, draw = background(192, 48)
    f = font(rng.randint(22, 32))
    text = ' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    draw.text((rng.randint(0, 12), rng.randint(0, 48 - f.size - 6)), text, font=f, fill=ink())
    if flip:
        img = img.rotate(180)
    x = (np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None]


def save(folder, arrays):
    os.makedirs(folder, exist_ok=True)
    for k, a in enumerate(arrays):
        np.save(os.path.join(folder, f'{k:02d}.npy'), a.astype(np.float16))


save('fixtures/calibration/ppocr_det', [det_image() for _ in range(8)])
save('fixtures/calibration/ppocr_cls', [cls_image(k % 2 == 1) for k in range(8)])
