# ruff: noqa: E501  (the documents are kept as written: one paragraph per line)
"""Publish version 2026-11 of each consent document.

The texts live here, frozen: a published version is never edited. A change of wording is
a new version (a new data migration or an admin publishing one), which patients must sign
again before their next clinical action.
"""

import hashlib

from django.db import migrations
from django.utils import timezone

VERSION = "2026-11"

TREATMENT = """\
Informed consent to treatment with compounded ketamine at home

Please read this carefully and ask your physician about anything you do not understand before you sign. You may take as long as you need.

1. The treatment
Your physician may prescribe ketamine, prepared for you alone by a compounding pharmacy, to take at home for symptoms of depression or anxiety, together with regular video check-ins and questionnaires. A physician decides whether this treatment is right for you, the dose, how often you take it and for how long, and may change or stop it at any time for your safety.

2. Compounded ketamine is not FDA approved
Compounded ketamine is not approved by the U.S. Food and Drug Administration (FDA). The FDA does not review compounded medicines for safety, effectiveness or quality before they are used. Ketamine is FDA approved only as an anesthetic given by injection in a medical setting; it is not FDA approved to treat depression, anxiety or any other psychiatric condition, so this use is "off label", and safe and effective doses for it have not been established. The FDA has said it is not aware of evidence that compounded ketamine is safer, more effective or faster acting than FDA-approved treatments for psychiatric conditions.

3. The FDA's warnings about compounded ketamine taken at home
The FDA has warned patients and health care providers about the risks of compounded ketamine, including forms taken by mouth, used for psychiatric conditions, especially when it is obtained through telehealth and taken at home without a health care provider present. In summary, the FDA warns of:
- Sedation: deep sleepiness, which can make you unable to respond or to get help.
- Dissociation: feeling disconnected from your thoughts, feelings, body, surroundings, or sense of time and self; hallucinations and confusion can occur.
- Increased blood pressure and heart rate, which can be dangerous, especially for people with high blood pressure, heart disease or blood vessel disease.
- Abuse and misuse: ketamine is a Schedule III controlled substance and can lead to misuse, dependence and addiction.
- Psychiatric effects, including worsening mood or anxiety and suicidal thoughts or behavior.
- Slowed or shallow breathing (respiratory depression), more likely in combination with alcohol, opioids, benzodiazepines, sleep medicines or other sedatives.
- Bladder and urinary problems, such as pain, urgency, frequent urination or blood in the urine.
The FDA notes that at home no health care provider is present to watch for these effects, and that patients should be monitored for sedation, dissociation and changes in vital signs such as blood pressure and heart rate. That lack of monitoring adds to the risk.

4. Monitoring and safety: what you agree to
- A responsible adult (your sitter) is with you for every session, from before your dose until its effects have fully worn off.
- You check your blood pressure before every dose and do not take a dose when it is at or above the limit your physician sets; you contact us instead.
- You do not drive, operate machinery or make important decisions until the next day.
- You do not drink alcohol or take sedatives, sleep medicines or recreational drugs on the day of a dose.
- You take only the dose prescribed, never more often than prescribed, never share it, and keep the medicine locked away from others.
- You attend your scheduled video check-ins, answer the questionnaires honestly, and confirm where you are at each visit.
- You tell us at once about any side effect, any new medicine or condition, and if you become pregnant or start breastfeeding.

5. If you have thoughts of harming yourself
Call or text 988 (the Suicide & Crisis Lifeline) or chat at 988lifeline.org at any time; if you are in immediate danger call 911. Tell us as well: treatment is paused until a physician has reviewed your safety.

6. Other options
Treatments approved by the FDA for depression and anxiety exist, including antidepressant and anti-anxiety medicines, psychotherapy, and esketamine nasal spray (approved for treatment-resistant depression and given in a certified health care setting with monitoring for at least two hours after each dose). You may choose any of these instead, and you may talk with your own doctor about them.

7. Your choice
Taking part is voluntary. You may stop at any time; tell your physician so that stopping is done safely. Results are not guaranteed: some people do not improve.

By typing my full legal name I confirm that I have read and understood this consent, including that compounded ketamine is not FDA approved and the FDA's warnings above, that I have been able to ask questions, and that I agree to be treated and to follow the safety rules above.
"""

TELEHEALTH = """\
Consent to telehealth

1. What telehealth is
Your visits with our physicians take place by secure video, and some of your care happens through our app, by text and by email. You will not be examined in person unless your physician decides you need to be.

2. Your physician and your location
You will see a physician licensed in the state where you are at the time of each visit. At every visit you confirm where you are; tell us if you are outside Florida or New Jersey, because we may not be able to see you or prescribe while you are elsewhere.

3. Prescribing by telehealth
Ketamine is a controlled substance. Federal and state rules on prescribing controlled substances by telehealth can change; if they do, you may need an in-person examination before we can continue to prescribe, and we will tell you.

4. Benefits and limits
Telehealth saves travel and lets you be seen at home. It also has limits: your physician cannot examine you physically, a poor connection can interrupt or delay a visit, and in rare cases information could be intercepted despite our safeguards. If telehealth is not appropriate for you, your physician will tell you and may refer you for in-person care.

5. Privacy
Visits use an encrypted service and are not recorded without your permission. Take your visits somewhere private. Your information is protected as described in our Notice of Privacy Practices.

6. Emergencies
Telehealth is not for emergencies. In an emergency call 911. If you are thinking about harming yourself, call or text 988 (the Suicide & Crisis Lifeline).

7. Your choice
You may withdraw this consent at any time by telling us; that will end treatment through this practice. Your records are kept as the law requires.

By typing my full legal name I agree to receive care by telehealth on these terms.
"""

SMS = """\
Consent to text messages

You choose which kinds of texts you agree to receive from the practice. Each is a separate choice, you may choose none of them, and agreeing to texts is not a condition of treatment. You can change your choices at any time in the app.

Care: I agree to receive texts and emails about my care (reminders, follow-ups). Message frequency varies. Msg & data rates may apply. Reply STOP to opt out.

Billing: I agree to receive texts and emails about my membership and payments. Reply STOP to opt out.

Marketing: I agree to receive occasional news and offers from the practice by text and email. Consent is not a condition of treatment. Reply STOP to opt out.

About our texts:
- Texts never contain a diagnosis, medicine name, dose or score; they carry a short general message and a link into the app, where you sign in to see details.
- Non-urgent texts are sent between 8 am and 8 pm your local time. Marketing texts are limited to 3 in any 24 hours.
- Reply STOP at any time to stop all texts to your number, START to receive them again, and HELP for help and how to contact us.
- Message and data rates may apply. Carriers are not liable for delayed or undelivered messages.
- Texts are not for emergencies. In an emergency call 911; if you are thinking about harming yourself, call or text 988.

By typing my full legal name I confirm the choices I have made above.
"""

PRIVACY = """\
Notice of Privacy Practices

This notice describes how medical information about you may be used and disclosed and how you can get access to this information. Please review it carefully.

1. Our duties
The law requires us to keep your protected health information private and secure, to give you this notice of our duties and practices, to follow the notice currently in effect, and to tell you if a breach affects your unsecured information. Your information is encrypted when stored and every access to it is logged.

2. How we use and share your information without your written permission
- Treatment: with the physicians and staff caring for you, and the pharmacy preparing and shipping your medicine.
- Payment: to bill your membership (we do not bill insurance).
- Operations: to run the practice, for example quality review, audits and training.
- As the law requires, including state prescription drug monitoring programs (checked and reported for every ketamine prescription), public health authorities, health oversight agencies, courts and law enforcement when legally required, and to prevent a serious threat to health or safety.
- Service providers who work for us (for example payment, messaging and hosting companies) under agreements that require them to protect your information.

3. Uses that need your written permission
We never sell your information. We use it for marketing only with your permission. Other uses not described here need your written permission, which you may revoke at any time (except where we have already acted on it).

4. Your rights
You have the right to: see and get a copy of your records, including an electronic copy; ask us to correct them; ask us to limit what we use or share (we are not required to agree in all cases); ask us to contact you in a specific way or at a specific address; get a list of the disclosures we have made; get a paper copy of this notice; and choose someone to act for you.

5. Questions and complaints
Contact the practice's privacy officer through the app or our support email. If you believe your privacy rights have been violated you may complain to us or to the U.S. Department of Health and Human Services Office for Civil Rights. We will not retaliate against you for filing a complaint.

6. Changes
We may change this notice; the new notice will apply to all the information we hold, and we will ask you to review it in the app.

By typing my full legal name I acknowledge that I have received this Notice of Privacy Practices.
"""

DOCUMENTS = [
    ("treatment", "Consent to treatment with compounded ketamine at home", TREATMENT),
    ("telehealth", "Consent to telehealth", TELEHEALTH),
    ("sms", "Consent to text messages", SMS),
    ("privacy", "Notice of Privacy Practices", PRIVACY),
]


def publish(apps, schema_editor):
    ConsentDocument = apps.get_model("patients", "ConsentDocument")
    now = timezone.now()
    for kind, title, body in DOCUMENTS:
        ConsentDocument.objects.get_or_create(
            kind=kind,
            version=VERSION,
            defaults={
                "title": title,
                "body": body,
                "body_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
                "published_at": now,
            },
        )


def unpublish(apps, schema_editor):
    # Signed documents are kept (signatures protect them); unsigned ones go.
    ConsentDocument = apps.get_model("patients", "ConsentDocument")
    ConsentDocument.objects.filter(version=VERSION, signatures__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_intake_consent_review_measurement"),
    ]

    operations = [
        migrations.RunPython(publish, unpublish),
    ]
