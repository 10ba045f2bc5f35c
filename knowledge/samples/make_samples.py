"""Build the sample RFP (.xlsx) and security questionnaire (.csv) used to try ``kbassist rfp``.

Both are written from the tables below so that the questions can be reviewed in a pull
request, and the bytes are reproducible (fixed workbook dates and zip timestamps): re-running
the script on unchanged tables gives a clean ``git diff``. The knowledge loader ignores this
folder; these files are questionnaires a prospect would send us, not knowledge.

The questions are written against the sample package on purpose: some hit approved claims,
some name roadmap items of every status by their aliases (available, next, later, never), a
few ask what the package can't answer, and one buyer comment is a formula-looking text cell
(``=HYPERLINK(...)``) that the pipeline must echo as text.

Usage::

    python knowledge/samples/make_samples.py          # (re)write the two files beside this script
    python knowledge/samples/make_samples.py --check  # exit 1 if either file is out of date
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RFP_FILE = "rfp-sample.xlsx"
SECURITY_FILE = "security-questionnaire.csv"
FIXED_DATE = datetime(2026, 10, 1, 9, 0, 0)
ZIP_DATE = (2026, 10, 1, 9, 0, 0)

RFP_TITLE = "Request for Proposal: field service scheduling platform (ref. NFM-2026-014)"
RFP_INTRO = (
    "Issued by Northgate Facilities Management Ltd. Please respond in the 'Vendor response' "
    "column; our notes are in 'Comments'. Closing date: 14 November 2026."
)
RFP_HEADER = ("Ref", "Section", "Requirement", "Vendor response", "Comments")
PRICING_ANNEX = (
    '=HYPERLINK("https://procurement.example.com/nfm-2026-014/annex-b",'
    '"Annex B: pricing schedule")'
)

# (ref, section, requirement, comments)
RFP_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("1.1", "Company", "Provide a short overview of your company and the product you are "
     "proposing.", ""),
    ("1.2", "Company", "How many service companies use your platform today, and how many "
     "technicians do they dispatch with it?", ""),
    ("1.3", "Company", "Provide two customer references in lift maintenance or fire and "
     "life-safety inspection.", "Mandatory"),
    ("1.4", "Company", "State your annual revenue and operating margin for each of the last "
     "three financial years.", "Mandatory"),
    ("1.5", "Company", "Part of our portfolio is residential service for housing associations. "
     "Does your platform support this work as well as commercial contracts?", ""),
    ("2.1", "Functionality", "Describe how jobs are assigned to technicians with the right "
     "skills and certifications (skills matching).", "Mandatory"),
    ("2.2", "Functionality", "Do you support dynamic rescheduling when a job overruns or an "
     "emergency call comes in? How are customers told about changed arrival times?",
     "Mandatory"),
    ("2.3", "Functionality", "Does the technician app have an offline mode for plant rooms and "
     "basements with no mobile signal?", "Mandatory"),
    ("2.4", "Functionality", "Describe how statutory inspections are scheduled and how "
     "inspection evidence is captured and retrieved for auditors.", "Mandatory"),
    ("2.5", "Functionality", "Do you provide a client portal where our customers can raise "
     "requests, follow visits and download certificates?", "Desirable"),
    ("2.6", "Functionality", "Can the platform produce AI job estimates, learning how long "
     "each type of job really takes from our own job history?", "Desirable"),
    ("2.7", "Functionality", "Do you track van inventory and trigger automatic parts "
     "replenishment?", "Desirable"),
    ("2.8", "Functionality", "Can we dispatch work to our subcontractors through a "
     "subcontractor portal?", "Desirable"),
    ("2.9", "Functionality", "Can dispatchers override the system's suggested assignments, "
     "and what happens to the rest of the day when they do?", ""),
    ("2.10", "Functionality", "Does the platform run payroll for field staff, including "
     "overtime and call-out allowances?", ""),
    ("3.1", "Integrations", "List your prebuilt ERP integration options and whether they "
     "synchronise in both directions.", "Mandatory"),
    ("3.2", "Integrations", "We run Microsoft Dynamics 365 Business Central. Do you offer a "
     "Business Central connector?", "Mandatory"),
    ("3.3", "Integrations", "Describe your REST API and webhooks, including how integrations "
     "authenticate.", ""),
    ("3.4", "Integrations", "Can we export all of our data at any time, including at the end "
     "of the contract? In which formats, and at what cost?", "Mandatory"),
    ("3.5", "Integrations", "Do you supply GPS trackers for our vans, or require specific "
     "telematics devices?", ""),
    ("3.6", "Integrations", "Do you have a prebuilt integration with SAP S/4HANA Service?", ""),
    ("4.1", "Pricing", "Describe your pricing model and which user types are charged for.",
     "Mandatory"),
    ("4.2", "Pricing", "State list prices for each plan, the billing frequency and any "
     "minimum commitment.", PRICING_ANNEX),
    ("4.3", "Pricing", "Are implementation and onboarding charged separately? If so, state "
     "the fees.", ""),
    ("4.4", "Pricing", "What discount applies to a three-year commitment?", ""),
    ("4.5", "Pricing", "Are office, dispatcher or read-only users charged?", ""),
    ("5.1", "Implementation", "Describe your implementation approach and the typical time to "
     "the first live depot.", "Mandatory"),
    ("5.2", "Implementation", "What do you need from our team during implementation?", ""),
    ("5.3", "Implementation", "Our IT policy prefers on-prem hosting. Can the platform be "
     "installed in our own data centre?", "Mandatory"),
    ("5.4", "Implementation", "How is single sign-on with Microsoft Entra ID set up during "
     "rollout?", ""),
    ("5.5", "Implementation", "Our Madrid and Lyon depots will need app localisation. Is the "
     "technician app available in Spanish and French?", "Desirable"),
    ("6.1", "Support", "State your support hours and response-time SLAs for each severity "
     "level.", "Mandatory"),
    ("6.2", "Support", "What platform uptime did you achieve over the last 12 months?", ""),
    ("6.3", "Support", "Will we have a named customer success manager and priority support?",
     ""),
    ("6.4", "Support", "Where do you publish service incidents and their history?", ""),
    ("7.1", "Roadmap", "Summarise your product roadmap for the next 12 to 18 months.", ""),
    ("7.2", "Roadmap", "Do you offer AR support, such as smart glasses for remote expert "
     "assistance?", ""),
    ("7.3", "Roadmap", "Is condition monitoring from building sensors (IoT alerts) on your "
     "roadmap?", ""),
    ("7.4", "Roadmap", "Some of our contracts are with US federal agencies. Are you FedRAMP "
     "authorised, or planning to be?", ""),
    ("7.5", "Roadmap", "How often do you release new versions, and how do customers influence "
     "roadmap priorities?", ""),
)

SECURITY_HEADER = ("ID", "Domain", "Question", "Answer")
# (id, domain, question)
SECURITY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("IAM-01", "Identity & Access Management", "Do you support SAML 2.0 single sign-on? "
     "Which identity providers are supported?"),
    ("IAM-02", "Identity & Access Management", "Is multi-factor authentication (MFA) enforced "
     "for all office and administrator users?"),
    ("IAM-03", "Identity & Access Management", "Describe the role-based access controls "
     "available to customer administrators."),
    ("IAM-04", "Identity & Access Management", "Are changes to customer records captured in an "
     "audit log? Is the log tamper-evident?"),
    ("DSP-01", "Data Security & Privacy", "Is customer data encrypted in transit? Which TLS "
     "versions are accepted?"),
    ("DSP-02", "Data Security & Privacy", "Is customer data encrypted at rest? State the "
     "algorithm and how encryption keys are managed."),
    ("DSP-03", "Data Security & Privacy", "Can customers export all of their data at any "
     "time, and in which formats?"),
    ("DSP-04", "Data Security & Privacy", "How long is customer data retained after contract "
     "termination, and how is its deletion confirmed?"),
    ("AAC-01", "Audit & Assurance", "Do you hold a current SOC 2 Type II report? Which trust "
     "services criteria does it cover?"),
    ("AAC-02", "Audit & Assurance", "Are you certified to ISO/IEC 27001? State the version of "
     "the standard and the scope of the certificate."),
    ("AAC-03", "Audit & Assurance", "How often is the service penetration tested, and by whom? "
     "Can we see the results?"),
    ("AAC-04", "Audit & Assurance", "Do you run a bug bounty or public vulnerability "
     "disclosure programme?"),
    ("HST-01", "Hosting & Data Residency", "Which cloud provider hosts the service?"),
    ("HST-02", "Hosting & Data Residency", "In which regions can customer data be hosted, and "
     "does production data ever leave the chosen region?"),
    ("HST-03", "Hosting & Data Residency", "Can the service be deployed on-prem or "
     "self-hosted in the customer's own data centre?"),
    ("HST-04", "Hosting & Data Residency", "Is the service FedRAMP authorised, or hosted in "
     "GovCloud for US federal agencies?"),
    ("PRV-01", "Privacy", "Do you sign a data processing agreement covering GDPR and UK GDPR?"),
    ("PRV-02", "Privacy", "Which transfer mechanism covers personal data leaving the UK or "
     "EEA (for example standard contractual clauses)?"),
    ("PRV-03", "Privacy", "Provide your list of subprocessors and explain how customers are "
     "told about changes to it."),
    ("BCR-01", "Business Continuity & Resilience", "How are backups taken, protected and "
     "stored? Are they kept in the same region as production data?"),
    ("BCR-02", "Business Continuity & Resilience", "State your recovery point objective (RPO) "
     "and recovery time objective (RTO)."),
    ("BCR-03", "Business Continuity & Resilience", "What availability did the service achieve "
     "over the last 12 months?"),
    ("BCR-04", "Business Continuity & Resilience", "Where do you publish service status and "
     "incident history?"),
    ("SEF-01", "Incident Response", "Do you maintain a documented security incident response "
     "plan, and how quickly are customers notified of a breach affecting their data?"),
    ("SEF-02", "Incident Response", "Have you had a security breach affecting customer data in "
     "the last 36 months?"),
    ("AIS-01", "Application Security", "How does the REST API authenticate integrations, and "
     "are webhooks signed?"),
    ("AIS-02", "Application Security", "How is data stored on the technician's phone protected "
     "while the app works offline?"),
    ("HRS-01", "Human Resources Security", "Do employees with access to customer data undergo "
     "background checks and annual security awareness training?"),
    ("STA-01", "Supply Chain & Third Parties", "How do you assess the security of your own "
     "suppliers and subprocessors?"),
    ("GRC-01", "Governance & Risk", "Who is accountable for information security, and how "
     "often is the security programme reviewed by senior management?"),
)


def render_security_csv() -> bytes:
    """UTF-8 with a BOM and CRLF line ends, as Excel saves 'CSV UTF-8'."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(SECURITY_HEADER)
    for ident, domain, question in SECURITY_ROWS:
        writer.writerow((ident, domain, question, ""))
    return buffer.getvalue().encode("utf-8-sig")


def render_rfp_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Requirements"
    sheet.append([RFP_TITLE])
    sheet.append([RFP_INTRO])
    sheet.append([])
    sheet.append(list(RFP_HEADER))
    for ref, section, requirement, comment in RFP_ROWS:
        sheet.append([ref, section, requirement, None, None])
        cell = sheet.cell(row=sheet.max_row, column=5, value=comment or None)
        if comment.startswith("="):
            cell.data_type = "s"  # a buyer's pasted text that only looks like a formula
    sheet["A1"].font = Font(bold=True, size=14)
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDE", (8, 16, 70, 60, 30), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=5, min_col=3, max_col=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A5"
    workbook.properties.creator = "Northgate Facilities Management Ltd."
    workbook.properties.title = RFP_TITLE
    workbook.properties.created = FIXED_DATE
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _normalise_zip(buffer.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Fixed zip timestamps and a fixed 'modified' date (openpyxl stamps the clock on save)."""
    out = io.BytesIO()
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    content,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, content)
    return out.getvalue()


RENDERERS = {RFP_FILE: render_rfp_xlsx, SECURITY_FILE: render_security_csv}


def render_all() -> dict[str, bytes]:
    return {name: render() for name, render in RENDERERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    args = parser.parse_args(argv)
    stale = []
    for name, data in render_all().items():
        target = args.out / name
        if target.is_file() and target.read_bytes() == data:
            continue
        stale.append(name)
        if not args.check:
            target.write_bytes(data)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run {Path(__file__).name})", file=sys.stderr)
        return 1
    verb, what = ("checked", "stale") if args.check else ("wrote", "changed")
    print(f"{verb} {len(RENDERERS)} files; {len(stale)} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
