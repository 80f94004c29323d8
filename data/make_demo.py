"""Generate the synthetic call-center demo datasets (deterministic).

    python data/make_demo.py            # writes data/demo_fa.jsonl and data/demo_ur.jsonl

Each record is one palliative-care call: a short operator/caller dialogue in
Persian (or Urdu), its English reference translation, and the 13 labels of
conf/features/palliative13.yaml. A feature is true only when the caller
reports it as a current problem; explicit negations ("no fever") and resolved
past symptoms ("had a fever last week, gone now") appear as false. Prevalences
follow a call center's imbalance: pain common, seizures rare, some calls about
nothing clinical at all. Nothing here is real patient data.

Phrases are (Persian, Urdu, English) triples. Placeholders: {p} the patient
(Persian; Urdu in the oblique case, as every Urdu phrase follows it with a
postposition), {p_en}/{P} the patient in English (inside / starting a
sentence), {s}/{S} he/she, {o}/{O} his/her.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
DATASETS = {  # language -> (seed, number of calls, output file)
    "fa": (20260221, 480, HERE / "demo_fa.jsonl"),
    "ur": (20260222, 360, HERE / "demo_ur.jsonl"),
}
LANG = {"fa": 0, "ur": 1, "en": 2}  # position in a phrase triple

PATIENTS = [  # (Persian, Urdu, English, pronoun, possessive)
    ("پدرم", "میرے والد", "my father", "he", "his"),
    ("مادرم", "میری والدہ", "my mother", "she", "her"),
    ("همسرم", "میری بیوی", "my wife", "she", "her"),
    ("شوهرم", "میرے شوہر", "my husband", "he", "his"),
    ("برادرم", "میرے بھائی", "my brother", "he", "his"),
    ("خواهرم", "میری بہن", "my sister", "she", "her"),
    ("پدربزرگم", "میرے دادا", "my grandfather", "he", "his"),
    ("مادربزرگم", "میری دادی", "my grandmother", "she", "her"),
]
DIAGNOSES = [
    ("ریه", "پھیپھڑوں", "lung"),
    ("پستان", "چھاتی", "breast"),
    ("معده", "معدے", "stomach"),
    ("روده بزرگ", "بڑی آنت", "colon"),
    ("پانکراس", "لبلبے", "pancreatic"),
    ("پروستات", "پروسٹیٹ", "prostate"),
    ("مغز", "دماغ", "brain"),
    ("کبد", "جگر", "liver"),
]
INTRO = {
    "fa": "تماس‌گیرنده: سلام، {p} سرطان {d} دارد و تحت مراقبت شماست.",
    "ur": "کالر: السلام علیکم، {p} کو {d} کا کینسر ہے اور وہ آپ کی دیکھ بھال میں ہیں۔",
    "en": "Caller: Hello, {p_en} has {d} cancer and is under your care.",
}
CALLER = {"fa": "تماس‌گیرنده: ", "ur": "کالر: ", "en": "Caller: "}

# Per feature: prevalence, current complaints (positive), explicit negations
# and resolved past episodes (both negative).
PHRASES: dict[str, dict] = {
    "doctor_visit": dict(
        prevalence=0.28,
        pos=[
            (
                "می‌خواستم برای {p} یک ویزیت در منزل درخواست کنم.",
                "میری درخواست ہے کہ {p} کے لیے گھر پر ڈاکٹر کا معائنہ رکھا جائے۔",
                "I wanted to request a home visit for {p_en}.",
            ),
            (
                "آیا امکان دارد پزشک این هفته برای معاینه {p} بیاید؟",
                "کیا اس ہفتے کوئی ڈاکٹر {p} کا معائنہ کرنے آ سکتا ہے؟",
                "Is it possible for a doctor to come and examine {p_en} this week?",
            ),
            (
                "لطفاً برای {p} یک نوبت ویزیت پزشک بگذارید.",
                "براہ کرم {p} کے لیے ڈاکٹر سے ملاقات کا وقت دے دیں۔",
                "Please book a doctor's appointment for {p_en}.",
            ),
            (
                "دکتر باید {p} را از نزدیک ببیند، کی می‌توانید بیایید؟",
                "ڈاکٹر کو {p} کو خود دیکھنا چاہیے، آپ کب آ سکتے ہیں؟",
                "A doctor needs to see {p_en} in person; when can you come?",
            ),
        ],
        neg=[
            (
                "فعلاً نیازی به ویزیت پزشک نداریم، فقط یک سؤال داشتم.",
                "ابھی ڈاکٹر کے معائنے کی ضرورت نہیں، بس ایک سوال پوچھنا تھا۔",
                "We don't need a doctor's visit for now, I just had a question.",
            ),
        ],
        past=[
            (
                "هفته پیش پزشک برای ویزیت آمد و {p} را معاینه کرد.",
                "پچھلے ہفتے ڈاکٹر آئے تھے اور {p} کا معائنہ کر چکے ہیں۔",
                "The doctor already came last week and examined {p_en}.",
            ),
        ],
    ),
    "psychological": dict(
        prevalence=0.14,
        pos=[
            (
                "{p} خیلی افسرده است و مدام گریه می‌کند.",
                "{p} کو شدید ڈپریشن ہے اور بار بار رونا آتا ہے۔",
                "{P} is very depressed and keeps crying.",
            ),
            (
                "{p} اضطراب شدیدی دارد و آرام و قرار ندارد.",
                "{p} کو شدید گھبراہٹ اور بے چینی ہے۔",
                "{P} has severe anxiety and cannot settle down.",
            ),
            (
                "{p} می‌گوید دیگر نمی‌خواهد زندگی کند و ناامید است.",
                "{p} کو لگتا ہے کہ اب جینے کا کوئی فائدہ نہیں، بہت مایوسی ہے۔",
                "{P} says {s} does not want to live anymore and feels hopeless.",
            ),
            (
                "{p} بی‌قرار است و گاهی چیزهایی می‌بیند که وجود ندارند.",
                "{p} کو ایسی چیزیں دکھائی دیتی ہیں جو وہاں موجود نہیں۔",
                "{P} is agitated and sometimes sees things that are not there.",
            ),
        ],
        neg=[
            (
                "از نظر روحی حالش خوب است و روحیه‌اش بد نیست.",
                "ذہنی طور پر ان کی حالت ٹھیک ہے اور مزاج بھی اچھا ہے۔",
                "Emotionally {s} is fine and {o} mood is not bad.",
            ),
        ],
        past=[
            (
                "ماه قبل افسردگی داشت ولی الان روحیه‌اش بهتر شده.",
                "پچھلے مہینے ڈپریشن تھا لیکن اب ان کا مزاج بہتر ہے۔",
                "{S} was depressed last month, but {o} mood is better now.",
            ),
        ],
    ),
    "sleep": dict(
        prevalence=0.18,
        pos=[
            (
                "{p} شب‌ها اصلاً خوابش نمی‌برد.",
                "{p} کو رات کو بالکل نیند نہیں آتی۔",
                "{P} can't fall asleep at all at night.",
            ),
            (
                "{p} بی‌خوابی دارد و هر شب چند بار بیدار می‌شود.",
                "{p} کو بے خوابی ہے اور ہر رات کئی بار آنکھ کھل جاتی ہے۔",
                "{P} has insomnia and wakes up several times every night.",
            ),
            (
                "خواب {p} خیلی به هم ریخته، تمام روز می‌خوابد و شب بیدار است.",
                "{p} کی نیند کا نظام بگڑ گیا ہے، دن بھر نیند اور رات بھر جاگنا۔",
                "{P}'s sleep is all over the place; {s} sleeps all day and stays awake at night.",
            ),
        ],
        neg=[
            (
                "خوابش خوب است و شب‌ها راحت می‌خوابد.",
                "ان کی نیند ٹھیک ہے اور رات آرام سے گزرتی ہے۔",
                "{S} sleeps well and rests comfortably at night.",
            ),
        ],
        past=[
            (
                "قبلاً بی‌خوابی داشت ولی با داروی جدید خوابش درست شده.",
                "پہلے بے خوابی تھی لیکن نئی دوا سے نیند ٹھیک ہو گئی ہے۔",
                "{S} used to have insomnia, but with the new medicine {o} sleep is back to normal.",
            ),
        ],
    ),
    "appetite": dict(
        prevalence=0.20,
        pos=[
            (
                "{p} اشتها ندارد و تقریباً چیزی نمی‌خورد.",
                "{p} کو بالکل بھوک نہیں لگتی، کھانا تقریباً چھوٹ گیا ہے۔",
                "{P} has no appetite and barely eats anything.",
            ),
            (
                "اشتهای {p} خیلی کم شده، فقط چند قاشق سوپ می‌خورد.",
                "{p} کی بھوک بہت کم ہو گئی ہے، بس سوپ کے چند چمچ ہی اندر جاتے ہیں۔",
                "{P}'s appetite has dropped a lot; {s} only eats a few spoonfuls of soup.",
            ),
            (
                "{p} میلی به غذا ندارد و وزن کم کرده.",
                "{p} کا کھانے کو دل نہیں کرتا اور وزن کم ہو گیا ہے۔",
                "{P} has no desire for food and has lost weight.",
            ),
        ],
        neg=[
            (
                "اشتهایش خوب است و غذایش را کامل می‌خورد.",
                "ان کی بھوک اچھی ہے اور کھانا پورا ختم ہو جاتا ہے۔",
                "{O} appetite is good and {s} finishes {o} meals.",
            ),
        ],
        past=[
            (
                "چند روز بی‌اشتها بود ولی الان دوباره خوب غذا می‌خورد.",
                "کچھ دن بھوک کم تھی لیکن اب دوبارہ ٹھیک ہو گئی ہے۔",
                "{S} had no appetite for a few days, but now {s} is eating well again.",
            ),
        ],
    ),
    "seizures": dict(
        prevalence=0.03,
        pos=[
            (
                "امروز صبح {p} تشنج کرد و دست و پایش می‌لرزید.",
                "آج صبح {p} کو دورہ پڑا اور ہاتھ پاؤں کانپ رہے تھے۔",
                "This morning {p_en} had a seizure and {o} arms and legs were shaking.",
            ),
            (
                "{p} دیشب دو بار دچار حمله تشنجی شد.",
                "کل رات {p} کو دو بار جھٹکوں کا دورہ پڑا۔",
                "{P} had two seizure attacks last night.",
            ),
            (
                "بدن {p} چند دقیقه سفت شد و کف از دهانش آمد.",
                "{p} کا جسم چند منٹ کے لیے اکڑ گیا اور منہ سے جھاگ نکلی۔",
                "{P}'s body went stiff for a few minutes and foam came from {o} mouth.",
            ),
        ],
        neg=[
            ("تا حالا تشنج نداشته است.", "انہیں کبھی دورہ نہیں پڑا۔", "{S} has never had a seizure."),
        ],
        past=[
            (
                "سال گذشته یک بار تشنج کرد ولی از آن موقع دیگر تکرار نشده.",
                "پچھلے سال ایک بار دورہ پڑا تھا لیکن اس کے بعد دوبارہ نہیں ہوا۔",
                "{S} had a seizure once last year, but it has not happened again since.",
            ),
        ],
    ),
    "weakness": dict(
        prevalence=0.30,
        pos=[
            (
                "{p} خیلی ضعیف شده و نمی‌تواند از تخت بلند شود.",
                "{p} کو اتنی کمزوری ہے کہ بستر سے اٹھنا ممکن نہیں۔",
                "{P} has become very weak and cannot get out of bed.",
            ),
            (
                "{p} همیشه خسته است و بی‌حال روی مبل دراز می‌کشد.",
                "{p} کو ہر وقت تھکاوٹ اور نڈھال پن رہتا ہے۔",
                "{P} is always tired and lies listlessly on the sofa.",
            ),
            (
                "{p} توان راه رفتن ندارد و خیلی زود خسته می‌شود.",
                "{p} میں چلنے کی طاقت نہیں رہی اور جلد تھکاوٹ ہو جاتی ہے۔",
                "{P} does not have the strength to walk and gets tired very quickly.",
            ),
        ],
        neg=[
            (
                "ضعف و خستگی ندارد و خودش راه می‌رود.",
                "انہیں کوئی کمزوری یا تھکاوٹ نہیں ہے۔",
                "{S} has no weakness or fatigue and walks on {o} own.",
            ),
        ],
        past=[
            (
                "بعد از شیمی‌درمانی ضعف داشت اما الان جان گرفته.",
                "کیموتھراپی کے بعد کمزوری تھی لیکن اب طاقت واپس آ گئی ہے۔",
                "{S} was weak after chemotherapy, but {s} has regained {o} strength now.",
            ),
        ],
    ),
    "consciousness": dict(
        prevalence=0.06,
        pos=[
            (
                "{p} خیلی خواب‌آلود است و به سختی جواب می‌دهد.",
                "{p} پر بہت غنودگی طاری ہے اور جواب مشکل سے ملتا ہے۔",
                "{P} is very drowsy and barely responds.",
            ),
            (
                "{p} از صبح گیج است و ما را نمی‌شناسد.",
                "صبح سے {p} کو ہوش کم ہے اور ہماری پہچان نہیں ہو رہی۔",
                "{P} has been confused since the morning and does not recognise us.",
            ),
            (
                "سطح هوشیاری {p} پایین آمده و چشم‌هایش را باز نمی‌کند.",
                "{p} کی ہوش کی سطح گر گئی ہے اور آنکھیں بند ہی رہتی ہیں۔",
                "{P}'s level of consciousness has dropped and {s} doesn't open {o} eyes.",
            ),
        ],
        neg=[
            (
                "کاملاً هوشیار است و با ما حرف می‌زند.",
                "وہ پوری طرح ہوش میں ہیں۔",
                "{S} is fully alert and talking with us.",
            ),
        ],
        past=[
            (
                "دیروز کمی گیج بود ولی امروز کاملاً هوشیار است.",
                "کل تھوڑی الجھن تھی لیکن آج پوری طرح ہوش میں ہیں۔",
                "{S} was a bit confused yesterday, but today {s} is fully alert.",
            ),
        ],
    ),
    "fever": dict(
        prevalence=0.12,
        pos=[
            ("{p} از دیشب تب دارد.", "{p} کو کل رات سے بخار ہے۔", "{P} has had a fever since last night."),
            (
                "تب {p} را گرفتم، سی و نه درجه بود.",
                "میں نے {p} کا بخار چیک کیا، ایک سو دو ڈگری تھا۔",
                "I took {p_en}'s temperature and it was thirty-nine degrees.",
            ),
            (
                "{p} بدنش داغ است و لرز دارد.",
                "{p} کا جسم گرم ہے اور کپکپی ہو رہی ہے۔",
                "{P}'s body is hot and {s} has chills.",
            ),
        ],
        neg=[
            (
                "تب ندارد، دمایش را اندازه گرفتم.",
                "بخار نہیں ہے، میں نے درجہ حرارت چیک کیا ہے۔",
                "{S} doesn't have a fever; I measured {o} temperature.",
            ),
        ],
        past=[
            (
                "هفته پیش تب داشت ولی الان تبش قطع شده.",
                "پچھلے ہفتے بخار تھا لیکن اب اتر گیا ہے۔",
                "{S} had a fever last week, but it has gone now.",
            ),
        ],
    ),
    "respiratory": dict(
        prevalence=0.18,
        pos=[
            (
                "{p} نفس‌تنگی دارد و به سختی نفس می‌کشد.",
                "{p} کو سانس لینے میں دشواری ہے اور سانس پھولتی ہے۔",
                "{P} is short of breath and breathes with difficulty.",
            ),
            (
                "{p} سرفه‌های شدید دارد و خلط می‌آورد.",
                "{p} کو شدید کھانسی ہے اور بلغم آتا ہے۔",
                "{P} has a bad cough and is bringing up phlegm.",
            ),
            (
                "{p} شب‌ها وقتی دراز می‌کشد نفسش تنگ می‌شود.",
                "{p} کو رات کو لیٹنے پر سانس چڑھ جاتی ہے۔",
                "{P} gets breathless at night when lying down.",
            ),
        ],
        neg=[
            (
                "مشکل تنفسی ندارد و سرفه هم نمی‌کند.",
                "سانس کا کوئی مسئلہ نہیں اور کھانسی بھی نہیں ہے۔",
                "{S} has no breathing problems and no cough.",
            ),
        ],
        past=[
            (
                "قبلاً سرفه داشت ولی الان خوب شده.",
                "پہلے کھانسی تھی لیکن اب ٹھیک ہو گئی ہے۔",
                "{S} had a cough before, but it has cleared up now.",
            ),
        ],
    ),
    "cost": dict(
        prevalence=0.10,
        pos=[
            (
                "بیمه هزینه داروهای {p} را پرداخت نمی‌کند.",
                "انشورنس {p} کی دواؤں کا خرچ ادا نہیں کر رہی۔",
                "The insurance won't pay for {p_en}'s medicines.",
            ),
            (
                "ما از پس هزینه درمان {p} برنمی‌آییم.",
                "ہم {p} کے علاج کا خرچ برداشت نہیں کر سکتے۔",
                "We can't afford {p_en}'s treatment costs.",
            ),
            (
                "دفترچه بیمه {p} تمدید نشده و داروخانه دارو نمی‌دهد.",
                "{p} کا ہیلتھ کارڈ ختم ہو گیا ہے اور فارمیسی دوا نہیں دے رہی۔",
                "{P}'s insurance booklet has not been renewed and the pharmacy won't give the medicine.",
            ),
        ],
        neg=[
            (
                "از نظر هزینه مشکلی نداریم، بیمه همه چیز را پوشش می‌دهد.",
                "خرچ کا کوئی مسئلہ نہیں، انشورنس سب کچھ ادا کرتی ہے۔",
                "We have no problem with costs; the insurance covers everything.",
            ),
        ],
        past=[],
    ),
    "urinary": dict(
        prevalence=0.08,
        pos=[
            ("{p} موقع ادرار کردن سوزش دارد.", "{p} کو پیشاب کرتے وقت جلن ہوتی ہے۔", "{P} has burning when urinating."),
            (
                "{p} نمی‌تواند ادرار کند و سوندش گرفته.",
                "{p} کا پیشاب رک گیا ہے اور کیتھیٹر بند ہے۔",
                "{P} cannot pass urine and {o} catheter is blocked.",
            ),
            (
                "{p} بی‌اختیاری ادرار پیدا کرده.",
                "{p} کا پیشاب پر قابو نہیں رہا۔",
                "{P} has developed urinary incontinence.",
            ),
        ],
        neg=[
            ("مشکل ادراری ندارد.", "پیشاب کا کوئی مسئلہ نہیں ہے۔", "{S} has no urinary problems."),
        ],
        past=[
            (
                "عفونت ادراری‌اش با آنتی‌بیوتیک خوب شد.",
                "پیشاب کا انفیکشن اینٹی بایوٹک سے ٹھیک ہو گیا۔",
                "{O} urinary infection cleared up with antibiotics.",
            ),
        ],
    ),
    "pain": dict(
        prevalence=0.45,
        pos=[
            ("{p} درد شدیدی در کمر دارد.", "{p} کی کمر میں شدید درد ہے۔", "{P} has severe back pain."),
            (
                "{p} از درد شکم به خودش می‌پیچد.",
                "{p} کو پیٹ میں شدید مروڑ اور درد ہے۔",
                "{P} is writhing with abdominal pain.",
            ),
            (
                "دردهای استخوانی {p} با مسکن آرام نمی‌شود.",
                "{p} کی ہڈیوں کا درد دوا سے بھی کم نہیں ہوتا۔",
                "{P}'s bone pain is not relieved by painkillers.",
            ),
            ("{p} می‌گوید سرش خیلی درد می‌کند.", "{p} کے سر میں بہت درد ہے۔", "{P} says {s} has a bad headache."),
            (
                "درد {p} از دیروز بیشتر شده و شب‌ها ناله می‌کند.",
                "کل سے {p} کا درد بڑھ گیا ہے اور رات بھر کراہنا جاری رہتا ہے۔",
                "{P}'s pain has got worse since yesterday and {s} moans at night.",
            ),
        ],
        neg=[
            ("خوشبختانه درد ندارد.", "شکر ہے کہ درد نہیں ہے۔", "Fortunately {s} is not in pain."),
        ],
        past=[
            (
                "درد پایش بعد از تغییر دارو کاملاً برطرف شده.",
                "دوا بدلنے کے بعد ٹانگ کا درد بالکل ختم ہو گیا ہے۔",
                "The pain in {o} leg has completely gone since the medication was changed.",
            ),
        ],
    ),
    "gastrointestinal": dict(
        prevalence=0.25,
        pos=[
            (
                "{p} مدام حالت تهوع دارد و استفراغ می‌کند.",
                "{p} کو مسلسل متلی ہے اور الٹیاں ہو رہی ہیں۔",
                "{P} keeps feeling nauseous and vomiting.",
            ),
            ("{p} چند روز است یبوست دارد.", "{p} کو کئی دن سے قبض ہے۔", "{P} has been constipated for several days."),
            ("{p} اسهال شدید گرفته.", "{p} کو شدید دست لگ گئے ہیں۔", "{P} has severe diarrhoea."),
        ],
        neg=[
            (
                "تهوع و استفراغ ندارد و روده‌اش مرتب کار می‌کند.",
                "نہ متلی ہے نہ الٹی، اور پیٹ ٹھیک چل رہا ہے۔",
                "{S} has no nausea or vomiting and {o} bowels are regular.",
            ),
        ],
        past=[
            ("استفراغش دیروز قطع شد.", "الٹیاں کل رک گئیں۔", "{O} vomiting stopped yesterday."),
        ],
    ),
}

FILLER = [
    ("داروهایش را طبق برنامه می‌خورد.", "دوائیں وقت پر دی جا رہی ہیں۔", "{S} takes {o} medicines on schedule."),
    (
        "آخرین جلسه شیمی‌درمانی‌اش دو هفته پیش بود.",
        "ان کی کیموتھراپی کا آخری سیشن دو ہفتے پہلے تھا۔",
        "{O} last chemotherapy session was two weeks ago.",
    ),
    (
        "پرستار دیروز برای تعویض پانسمان آمده بود.",
        "نرس کل پٹی بدلنے آئی تھی۔",
        "The nurse came yesterday to change the dressing.",
    ),
    (
        "نتیجه آزمایش خونش را گرفتیم.",
        "ہمیں خون کے ٹیسٹ کے نتائج مل گئے ہیں۔",
        "We have received the results of {o} blood test.",
    ),
    (
        "می‌خواستم بپرسم داروهایش را با غذا بدهیم یا نه.",
        "پوچھنا یہ تھا کہ دوائیں کھانے کے ساتھ دیں یا نہیں۔",
        "I wanted to ask whether to give {o} medicines with food.",
    ),
    ("آدرس منزل ما عوض شده است.", "ہمارے گھر کا پتہ بدل گیا ہے۔", "Our home address has changed."),
]
GREETINGS = [
    (
        "اپراتور: سلام، مرکز مراقبت تسکینی، بفرمایید.",
        "آپریٹر: السلام علیکم، پیلی ایٹو کیئر سینٹر، فرمائیے۔",
        "Operator: Hello, palliative care center, go ahead.",
    ),
    (
        "اپراتور: سلام، وقت بخیر. چطور می‌توانم کمکتان کنم؟",
        "آپریٹر: السلام علیکم، میں آپ کی کیا مدد کر سکتا ہوں؟",
        "Operator: Hello, good day. How can I help you?",
    ),
    (
        "اپراتور: الو، خط مشاوره مراقبت در منزل، در خدمتم.",
        "آپریٹر: ہیلو، ہوم کیئر مشاورتی لائن، جی فرمائیے۔",
        "Operator: Hello, home care advice line, at your service.",
    ),
]
OPERATOR_MIDDLE = [
    ("اپراتور: از کی این وضعیت را دارد؟", "آپریٹر: یہ حالت کب سے ہے؟", "Operator: Since when has {s} been like this?"),
    (
        "اپراتور: متوجه شدم. چیز دیگری هم هست؟",
        "آپریٹر: سمجھ گیا۔ اور کچھ؟",
        "Operator: I understand. Is there anything else?",
    ),
    ("اپراتور: بله، بفرمایید ادامه دهید.", "آپریٹر: جی، بات جاری رکھیں۔", "Operator: Yes, please go on."),
]
CLOSINGS = [
    (
        "اپراتور: بسیار خب، مشکلات را ثبت کردم و همکارم با شما تماس می‌گیرد.",
        "آپریٹر: ٹھیک ہے، میں نے سب نوٹ کر لیا ہے، ہمارا ساتھی آپ کو واپس کال کرے گا۔",
        "Operator: All right, I have recorded this and my colleague will call you back.",
    ),
    (
        "اپراتور: ممنون از تماستان، پرونده را به تیم درمان می‌دهم.",
        "آپریٹر: کال کرنے کا شکریہ، میں فائل علاج کی ٹیم کو بھیج دیتا ہوں۔",
        "Operator: Thank you for calling, I will pass the file to the care team.",
    ),
]


def fill(template: str, patient: tuple, language: str, **extra: str) -> str:
    fa, ur, en, s, o = patient
    text = template.format(
        p=fa if language == "fa" else ur,
        p_en=en,
        P=en[0].upper() + en[1:],
        s=s,
        S=s.capitalize(),
        o=o,
        O=o.capitalize(),
        **extra,
    )
    return text[0].upper() + text[1:] if text[0].isascii() else text


def make_call(rng: random.Random, language: str, index: int) -> dict:
    patient = rng.choice(PATIENTS)
    diagnosis = rng.choice(DIAGNOSES)
    no_complaint = rng.random() < 0.10  # calls about logistics only
    labels = {key: (not no_complaint) and rng.random() < spec["prevalence"] for key, spec in PHRASES.items()}

    sentences: list[tuple[str, str, str]] = []
    for key, spec in PHRASES.items():
        if labels[key]:
            sentences.append(rng.choice(spec["pos"]))
        elif rng.random() < 0.12:
            sentences.append(rng.choice(spec["neg"]))
        elif spec["past"] and rng.random() < 0.06:
            sentences.append(rng.choice(spec["past"]))
    sentences += rng.sample(FILLER, rng.randint(0 if sentences else 1, 2))
    rng.shuffle(sentences)
    half = (len(sentences) + 1) // 2
    greeting, middle, closing = rng.choice(GREETINGS), rng.choice(OPERATOR_MIDDLE), rng.choice(CLOSINGS)

    def render(lang: str) -> str:
        at = LANG[lang]
        said = [fill(s[at], patient, lang) for s in sentences]
        turns = [greeting[at], fill(INTRO[lang], patient, lang, d=diagnosis[at]) + " " + " ".join(said[:half])]
        if said[half:]:
            turns += [fill(middle[at], patient, lang), CALLER[lang] + " ".join(said[half:])]
        return "\n".join(turns + [closing[at]])

    return {"id": f"{language}-{index:04d}", "text": render(language), "translation_en": render("en"), **labels}


def main(language: str = "fa", out: Path | None = None) -> None:
    seed, n_calls, default_out = DATASETS[language]
    rng = random.Random(seed)
    with (out or default_out).open("w", encoding="utf-8") as f:
        for i in range(1, n_calls + 1):
            f.write(json.dumps(make_call(rng, language, i), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for lang in sys.argv[1:] or DATASETS:
        main(lang)
