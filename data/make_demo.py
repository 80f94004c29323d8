"""Generate the synthetic Persian call-center demo dataset (deterministic).

    python data/make_demo.py            # writes data/demo_fa.jsonl

Each record is one palliative-care call: a short operator/caller dialogue in
Persian, its English reference translation, and the 13 labels of
conf/features/palliative13.yaml. A feature is true only when the caller
reports it as a current problem; explicit negations ("no fever") and resolved
past symptoms ("had a fever last week, gone now") appear as false. Prevalences
follow a call center's imbalance: pain common, seizures rare, some calls about
nothing clinical at all. Nothing here is real patient data.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20260221
N_CALLS = 480
OUT = Path(__file__).with_name("demo_fa.jsonl")

# Placeholders: {p} patient (Persian), {P}/{p_en} patient (English, sentence
# start / inside), {S}/{s} he/she, {o} his/her.
PATIENTS = [  # (Persian, English, pronoun, possessive)
    ("پدرم", "my father", "he", "his"),
    ("مادرم", "my mother", "she", "her"),
    ("همسرم", "my wife", "she", "her"),
    ("شوهرم", "my husband", "he", "his"),
    ("برادرم", "my brother", "he", "his"),
    ("خواهرم", "my sister", "she", "her"),
    ("پدربزرگم", "my grandfather", "he", "his"),
    ("مادربزرگم", "my grandmother", "she", "her"),
]
DIAGNOSES = [
    ("ریه", "lung"), ("پستان", "breast"), ("معده", "stomach"), ("روده بزرگ", "colon"),
    ("پانکراس", "pancreatic"), ("پروستات", "prostate"), ("مغز", "brain"), ("کبد", "liver"),
]

# Per feature: prevalence, current complaints (positive), explicit negations
# and resolved past episodes (both negative).
PHRASES: dict[str, dict] = {
    "doctor_visit": dict(prevalence=0.28, pos=[
        ("می‌خواستم برای {p} یک ویزیت در منزل درخواست کنم.", "I wanted to request a home visit for {p_en}."),
        ("آیا امکان دارد پزشک این هفته برای معاینه {p} بیاید؟", "Is it possible for a doctor to come and examine {p_en} this week?"),
        ("لطفاً برای {p} یک نوبت ویزیت پزشک بگذارید.", "Please book a doctor's appointment for {p_en}."),
        ("دکتر باید {p} را از نزدیک ببیند، کی می‌توانید بیایید؟", "A doctor needs to see {p_en} in person; when can you come?"),
    ], neg=[
        ("فعلاً نیازی به ویزیت پزشک نداریم، فقط یک سؤال داشتم.", "We don't need a doctor's visit for now, I just had a question."),
    ], past=[
        ("هفته پیش پزشک برای ویزیت آمد و {p} را معاینه کرد.", "The doctor already came last week and examined {p_en}."),
    ]),
    "psychological": dict(prevalence=0.14, pos=[
        ("{p} خیلی افسرده است و مدام گریه می‌کند.", "{P} is very depressed and keeps crying."),
        ("{p} اضطراب شدیدی دارد و آرام و قرار ندارد.", "{P} has severe anxiety and cannot settle down."),
        ("{p} می‌گوید دیگر نمی‌خواهد زندگی کند و ناامید است.", "{P} says {s} does not want to live anymore and feels hopeless."),
        ("{p} بی‌قرار است و گاهی چیزهایی می‌بیند که وجود ندارند.", "{P} is agitated and sometimes sees things that are not there."),
    ], neg=[
        ("از نظر روحی حالش خوب است و روحیه‌اش بد نیست.", "Emotionally {s} is fine and {o} mood is not bad."),
    ], past=[
        ("ماه قبل افسردگی داشت ولی الان روحیه‌اش بهتر شده.", "{S} was depressed last month, but {o} mood is better now."),
    ]),
    "sleep": dict(prevalence=0.18, pos=[
        ("{p} شب‌ها اصلاً خوابش نمی‌برد.", "{P} can't fall asleep at all at night."),
        ("{p} بی‌خوابی دارد و هر شب چند بار بیدار می‌شود.", "{P} has insomnia and wakes up several times every night."),
        ("خواب {p} خیلی به هم ریخته، تمام روز می‌خوابد و شب بیدار است.", "{P}'s sleep is all over the place; {s} sleeps all day and stays awake at night."),
    ], neg=[
        ("خوابش خوب است و شب‌ها راحت می‌خوابد.", "{S} sleeps well and rests comfortably at night."),
    ], past=[
        ("قبلاً بی‌خوابی داشت ولی با داروی جدید خوابش درست شده.", "{S} used to have insomnia, but with the new medicine {o} sleep is back to normal."),
    ]),
    "appetite": dict(prevalence=0.20, pos=[
        ("{p} اشتها ندارد و تقریباً چیزی نمی‌خورد.", "{P} has no appetite and barely eats anything."),
        ("اشتهای {p} خیلی کم شده، فقط چند قاشق سوپ می‌خورد.", "{P}'s appetite has dropped a lot; {s} only eats a few spoonfuls of soup."),
        ("{p} میلی به غذا ندارد و وزن کم کرده.", "{P} has no desire for food and has lost weight."),
    ], neg=[
        ("اشتهایش خوب است و غذایش را کامل می‌خورد.", "{O} appetite is good and {s} finishes {o} meals."),
    ], past=[
        ("چند روز بی‌اشتها بود ولی الان دوباره خوب غذا می‌خورد.", "{S} had no appetite for a few days, but now {s} is eating well again."),
    ]),
    "seizures": dict(prevalence=0.03, pos=[
        ("امروز صبح {p} تشنج کرد و دست و پایش می‌لرزید.", "This morning {p_en} had a seizure and {o} arms and legs were shaking."),
        ("{p} دیشب دو بار دچار حمله تشنجی شد.", "{P} had two seizure attacks last night."),
        ("بدن {p} چند دقیقه سفت شد و کف از دهانش آمد.", "{P}'s body went stiff for a few minutes and foam came from {o} mouth."),
    ], neg=[
        ("تا حالا تشنج نداشته است.", "{S} has never had a seizure."),
    ], past=[
        ("سال گذشته یک بار تشنج کرد ولی از آن موقع دیگر تکرار نشده.", "{S} had a seizure once last year, but it has not happened again since."),
    ]),
    "weakness": dict(prevalence=0.30, pos=[
        ("{p} خیلی ضعیف شده و نمی‌تواند از تخت بلند شود.", "{P} has become very weak and cannot get out of bed."),
        ("{p} همیشه خسته است و بی‌حال روی مبل دراز می‌کشد.", "{P} is always tired and lies listlessly on the sofa."),
        ("{p} توان راه رفتن ندارد و خیلی زود خسته می‌شود.", "{P} does not have the strength to walk and gets tired very quickly."),
    ], neg=[
        ("ضعف و خستگی ندارد و خودش راه می‌رود.", "{S} has no weakness or fatigue and walks on {o} own."),
    ], past=[
        ("بعد از شیمی‌درمانی ضعف داشت اما الان جان گرفته.", "{S} was weak after chemotherapy, but {s} has regained {o} strength now."),
    ]),
    "consciousness": dict(prevalence=0.06, pos=[
        ("{p} خیلی خواب‌آلود است و به سختی جواب می‌دهد.", "{P} is very drowsy and barely responds."),
        ("{p} از صبح گیج است و ما را نمی‌شناسد.", "{P} has been confused since the morning and does not recognise us."),
        ("سطح هوشیاری {p} پایین آمده و چشم‌هایش را باز نمی‌کند.", "{P}'s level of consciousness has dropped and {s} doesn't open {o} eyes."),
    ], neg=[
        ("کاملاً هوشیار است و با ما حرف می‌زند.", "{S} is fully alert and talking with us."),
    ], past=[
        ("دیروز کمی گیج بود ولی امروز کاملاً هوشیار است.", "{S} was a bit confused yesterday, but today {s} is fully alert."),
    ]),
    "fever": dict(prevalence=0.12, pos=[
        ("{p} از دیشب تب دارد.", "{P} has had a fever since last night."),
        ("تب {p} را گرفتم، سی و نه درجه بود.", "I took {p_en}'s temperature and it was thirty-nine degrees."),
        ("{p} بدنش داغ است و لرز دارد.", "{P}'s body is hot and {s} has chills."),
    ], neg=[
        ("تب ندارد، دمایش را اندازه گرفتم.", "{S} doesn't have a fever; I measured {o} temperature."),
    ], past=[
        ("هفته پیش تب داشت ولی الان تبش قطع شده.", "{S} had a fever last week, but it has gone now."),
    ]),
    "respiratory": dict(prevalence=0.18, pos=[
        ("{p} نفس‌تنگی دارد و به سختی نفس می‌کشد.", "{P} is short of breath and breathes with difficulty."),
        ("{p} سرفه‌های شدید دارد و خلط می‌آورد.", "{P} has a bad cough and is bringing up phlegm."),
        ("{p} شب‌ها وقتی دراز می‌کشد نفسش تنگ می‌شود.", "{P} gets breathless at night when lying down."),
    ], neg=[
        ("مشکل تنفسی ندارد و سرفه هم نمی‌کند.", "{S} has no breathing problems and no cough."),
    ], past=[
        ("قبلاً سرفه داشت ولی الان خوب شده.", "{S} had a cough before, but it has cleared up now."),
    ]),
    "cost": dict(prevalence=0.10, pos=[
        ("بیمه هزینه داروهای {p} را پرداخت نمی‌کند.", "The insurance won't pay for {p_en}'s medicines."),
        ("ما از پس هزینه درمان {p} برنمی‌آییم.", "We can't afford {p_en}'s treatment costs."),
        ("دفترچه بیمه {p} تمدید نشده و داروخانه دارو نمی‌دهد.", "{P}'s insurance booklet has not been renewed and the pharmacy won't give the medicine."),
    ], neg=[
        ("از نظر هزینه مشکلی نداریم، بیمه همه چیز را پوشش می‌دهد.", "We have no problem with costs; the insurance covers everything."),
    ], past=[]),
    "urinary": dict(prevalence=0.08, pos=[
        ("{p} موقع ادرار کردن سوزش دارد.", "{P} has burning when urinating."),
        ("{p} نمی‌تواند ادرار کند و سوندش گرفته.", "{P} cannot pass urine and {o} catheter is blocked."),
        ("{p} بی‌اختیاری ادرار پیدا کرده.", "{P} has developed urinary incontinence."),
    ], neg=[
        ("مشکل ادراری ندارد.", "{S} has no urinary problems."),
    ], past=[
        ("عفونت ادراری‌اش با آنتی‌بیوتیک خوب شد.", "{O} urinary infection cleared up with antibiotics."),
    ]),
    "pain": dict(prevalence=0.45, pos=[
        ("{p} درد شدیدی در کمر دارد.", "{P} has severe back pain."),
        ("{p} از درد شکم به خودش می‌پیچد.", "{P} is writhing with abdominal pain."),
        ("دردهای استخوانی {p} با مسکن آرام نمی‌شود.", "{P}'s bone pain is not relieved by painkillers."),
        ("{p} می‌گوید سرش خیلی درد می‌کند.", "{P} says {s} has a bad headache."),
        ("درد {p} از دیروز بیشتر شده و شب‌ها ناله می‌کند.", "{P}'s pain has got worse since yesterday and {s} moans at night."),
    ], neg=[
        ("خوشبختانه درد ندارد.", "Fortunately {s} is not in pain."),
    ], past=[
        ("درد پایش بعد از تغییر دارو کاملاً برطرف شده.", "The pain in {o} leg has completely gone since the medication was changed."),
    ]),
    "gastrointestinal": dict(prevalence=0.25, pos=[
        ("{p} مدام حالت تهوع دارد و استفراغ می‌کند.", "{P} keeps feeling nauseous and vomiting."),
        ("{p} چند روز است یبوست دارد.", "{P} has been constipated for several days."),
        ("{p} اسهال شدید گرفته.", "{P} has severe diarrhoea."),
    ], neg=[
        ("تهوع و استفراغ ندارد و روده‌اش مرتب کار می‌کند.", "{S} has no nausea or vomiting and {o} bowels are regular."),
    ], past=[
        ("استفراغش دیروز قطع شد.", "{O} vomiting stopped yesterday."),
    ]),
}

FILLER = [
    ("داروهایش را طبق برنامه می‌خورد.", "{S} takes {o} medicines on schedule."),
    ("آخرین جلسه شیمی‌درمانی‌اش دو هفته پیش بود.", "{O} last chemotherapy session was two weeks ago."),
    ("پرستار دیروز برای تعویض پانسمان آمده بود.", "The nurse came yesterday to change the dressing."),
    ("نتیجه آزمایش خونش را گرفتیم.", "We have received the results of {o} blood test."),
    ("می‌خواستم بپرسم داروهایش را با غذا بدهیم یا نه.", "I wanted to ask whether to give {o} medicines with food."),
    ("آدرس منزل ما عوض شده است.", "Our home address has changed."),
]
GREETINGS = [
    ("اپراتور: سلام، مرکز مراقبت تسکینی، بفرمایید.", "Operator: Hello, palliative care center, go ahead."),
    ("اپراتور: سلام، وقت بخیر. چطور می‌توانم کمکتان کنم؟", "Operator: Hello, good day. How can I help you?"),
    ("اپراتور: الو، خط مشاوره مراقبت در منزل، در خدمتم.", "Operator: Hello, home care advice line, at your service."),
]
OPERATOR_MIDDLE = [
    ("اپراتور: از کی این وضعیت را دارد؟", "Operator: Since when has {s} been like this?"),
    ("اپراتور: متوجه شدم. چیز دیگری هم هست؟", "Operator: I understand. Is there anything else?"),
    ("اپراتور: بله، بفرمایید ادامه دهید.", "Operator: Yes, please go on."),
]
CLOSINGS = [
    ("اپراتور: بسیار خب، مشکلات را ثبت کردم و همکارم با شما تماس می‌گیرد.", "Operator: All right, I have recorded this and my colleague will call you back."),
    ("اپراتور: ممنون از تماستان، پرونده را به تیم درمان می‌دهم.", "Operator: Thank you for calling, I will pass the file to the care team."),
]


def fill(template: str, patient: tuple[str, str, str, str]) -> str:
    fa, en, s, o = patient
    text = template.format(p=fa, p_en=en, P=en[0].upper() + en[1:], s=s, S=s.capitalize(), o=o, O=o.capitalize())
    return text[0].upper() + text[1:] if text[0].isascii() else text


def make_call(rng: random.Random, index: int) -> dict:
    patient = rng.choice(PATIENTS)
    cancer_fa, cancer_en = rng.choice(DIAGNOSES)
    no_complaint = rng.random() < 0.10  # calls about logistics only
    labels = {key: (not no_complaint) and rng.random() < spec["prevalence"] for key, spec in PHRASES.items()}

    sentences: list[tuple[str, str]] = []
    for key, spec in PHRASES.items():
        if labels[key]:
            sentences.append(rng.choice(spec["pos"]))
        elif rng.random() < 0.12:
            sentences.append(rng.choice(spec["neg"]))
        elif spec["past"] and rng.random() < 0.06:
            sentences.append(rng.choice(spec["past"]))
    sentences += rng.sample(FILLER, rng.randint(0 if sentences else 1, 2))
    rng.shuffle(sentences)

    intro = (f"تماس‌گیرنده: سلام، {patient[0]} سرطان {cancer_fa} دارد و تحت مراقبت شماست.",
             f"Caller: Hello, {patient[1]} has {cancer_en} cancer and is under your care.")
    half = (len(sentences) + 1) // 2
    first = [(fill(fa, patient), fill(en, patient)) for fa, en in sentences[:half]]
    second = [(fill(fa, patient), fill(en, patient)) for fa, en in sentences[half:]]
    turns = [rng.choice(GREETINGS), (intro[0] + " " + " ".join(f for f, _ in first),
                                     intro[1] + " " + " ".join(e for _, e in first))]
    if second:
        middle = rng.choice(OPERATOR_MIDDLE)
        turns += [(middle[0], fill(middle[1], patient)),
                  ("تماس‌گیرنده: " + " ".join(f for f, _ in second), "Caller: " + " ".join(e for _, e in second))]
    turns.append(rng.choice(CLOSINGS))
    return {
        "id": f"fa-{index:04d}",
        "text": "\n".join(fa for fa, _ in turns),
        "translation_en": "\n".join(en for _, en in turns),
        **labels,
    }


def main(out: Path = OUT) -> None:
    rng = random.Random(SEED)
    with out.open("w", encoding="utf-8") as f:
        for i in range(1, N_CALLS + 1):
            f.write(json.dumps(make_call(rng, i), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
