"""Fill locale/ja/LC_MESSAGES/django.po from the table below (run after `make messages`).

Kept beside the catalogue so that a refreshed .po gets its Japanese back in one step:
    python locale/translate_ja.py && python manage.py compilemessages --locale ja
"""
import re
from pathlib import Path

PO = Path(__file__).parent / "ja" / "LC_MESSAGES" / "django.po"

JA = {
    "left": "左",
    "right": "右",
    "Image study": "画像の調査",
    "In this study you will look at pairs of images and, for each pair, pick the one that best answers a short question. It takes a few minutes.":
        "この調査では、2枚ずつ並んだ画像を見て、短い質問に最もよく当てはまる方を選んでいただきます。所要時間は数分です。",
    "We record your answers, how long each answer took, and basic information about your browser and screen. We do not record your name or any other personal information. Your answers are used for research only.":
        "回答内容、回答にかかった時間、ブラウザと画面の基本情報を記録します。お名前などの個人情報は記録しません。回答は研究目的にのみ使用します。",
    "Taking part is voluntary; you may stop at any time by closing this page.":
        "参加は任意です。このページを閉じれば、いつでも中止できます。",
    "I have read the above and agree to take part.": "上記を読み、参加に同意します。",
    "Continue": "次へ",
    "Thank you!": "ご協力ありがとうございました！",
    "You have answered every question. Your completion code is:": "すべての質問に回答しました。完了コードは次のとおりです：",
    "If you were asked for a code, copy it there. You may now close this page.":
        "コードの入力を求められている場合は、そこに貼り付けてください。このページは閉じてかまいません。",
    "Instructions": "説明",
    "You will see %(counter)s pair of images.": "%(counter)s 組の画像が表示されます。",
    "For each pair, answer this question:": "それぞれの組について、次の質問に答えてください：",
    "Choose an image by clicking or tapping it, or with the ← and → keys on a keyboard. There are no right or wrong answers: go with your first impression.":
        "画像をクリックまたはタップするか、キーボードの ← / → キーで選んでください。正解・不正解はありません。第一印象で選んでください。",
    "Start": "開始",
    "Left image": "左の画像",
    "Left": "左",
    "Right image": "右の画像",
    "Right": "右",
    "Click or tap the image you choose, or press ← or →.": "選ぶ画像をクリックまたはタップするか、← / → キーを押してください。",
    "This study has closed and is no longer taking participants. Thank you for your interest.":
        "この調査は終了しました。ご関心をお寄せいただきありがとうございました。",
    "This study is not open yet. Please try again later.": "この調査はまだ開始されていません。後ほどもう一度お試しください。",
    "Please tick the box to agree before you start.": "開始する前に、同意のチェックボックスにチェックを入れてください。",
    "Your session has expired. Please start again.": "セッションの有効期限が切れました。最初からやり直してください。",
}
JA_PLURAL = {"You will see %(counter)s pair of images.": ["%(counter)s 組の画像が表示されます。"]}


def _unquote(lines: list[str]) -> str:
    return "".join(re.match(r'^(?:msgid(?:_plural)?|msgstr(?:\[\d\])?)?\s*"(.*)"$', line).group(1) for line in lines)


def fill(text: str) -> tuple[str, list[str]]:
    entries, missing = [], []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        ids = [i for i, line in enumerate(lines) if line.startswith("msgid ")]
        if not ids or _unquote([lines[ids[0]]]) == "" and len(lines) > ids[0] + 1 and lines[ids[0] + 1].startswith("msgstr"):
            entries.append(block)  # the header
            continue
        start = ids[0]
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("msgid_plural", "msgstr")))
        msgid = _unquote(lines[start:end]).replace('\\"', '"')
        head = [line for line in lines[:start] if not line.startswith("#, fuzzy")]
        if "msgid_plural" in block:
            plural_line = next(line for line in lines if line.startswith("msgid_plural"))
            body = lines[start:end] + [plural_line] + [f'msgstr[{n}] "{s}"' for n, s in enumerate(JA_PLURAL.get(msgid, [""]))]
        else:
            body = lines[start:end] + [f'msgstr "{JA.get(msgid, "")}"']
        if msgid not in JA:
            missing.append(msgid)
        entries.append("\n".join(head + body))
    return "\n\n".join(entries), missing


if __name__ == "__main__":
    filled, missing = fill(PO.read_text())
    filled = filled.replace('"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n"', '"Plural-Forms: nplurals=1; plural=0;\\n"')
    filled = filled.replace("#, fuzzy\nmsgid \"\"", "msgid \"\"", 1)
    filled = filled.replace("# SOME DESCRIPTIVE TITLE.", "# Japanese messages of evalsite's participant pages.")
    filled = filled.replace('"Language: \\n"', '"Language: ja\\n"').replace("charset=CHARSET", "charset=UTF-8")
    PO.write_text(filled if filled.endswith("\n") else filled + "\n")
    if missing:
        raise SystemExit("untranslated: " + "; ".join(missing))
    print(f"{PO}: every message translated")
