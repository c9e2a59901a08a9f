"""The content checker's messages for editors: English ids, said in Russian by default.

Every message `jol content check` prints is a key here (the English text, with named
placeholders) and its translations. Russian is the editors' default; `--lang en` prints the
keys themselves. A missing language falls back to Russian, then to English; a test checks that
every message used in bot/content has its Russian line. Kyrgyz can be added as a third entry.
This is not messages.po: these lines are for NGO editors, not for the people the bot serves.
"""

from __future__ import annotations

from collections.abc import Mapping

CHECKER_LANGUAGES = ("ru", "en", "ky")

MESSAGES: dict[str, dict[str, str]] = {
    # --- files and folders
    "content folder does not exist": {"ru": "папка с текстами не найдена"},
    "not a topic (topics end in .md); ignored": {
        "ru": "это не тема (имя темы кончается на .md); файл пропущен"},
    "cannot read the file: {reason}": {"ru": "файл не читается: {reason}"},
    "a symbolic link is not read: put the file itself in the content folder": {
        "ru": "ссылка (symlink) не читается: положите в папку сам файл"},
    "this is a folder, not a file: rename or remove it": {
        "ru": "это папка, а не файл: переименуйте или удалите её"},
    "not a regular file (a pipe or a device): remove it": {
        "ru": "это не обычный файл (канал или устройство): удалите его"},
    "the file is {size} KB; at most {limit} KB is read: split it": {
        "ru": "файл занимает {size} КБ, а читается не больше {limit} КБ: разделите его"},
    "more than {limit} files in the content folder: remove what is not content": {
        "ru": "в папке с текстами больше {limit} файлов: уберите всё, что не относится к текстам"},
    "not UTF-8 text: save the file as UTF-8": {
        "ru": "текст не в кодировке UTF-8: сохраните файл в UTF-8"},
    "loading took more than {seconds} s; nothing was changed": {
        "ru": "загрузка заняла больше {seconds} с; ничего не изменилось"},
    "cannot read the published content version: {reason}; nothing was changed": {
        "ru": "не удалось прочитать опубликованную версию текстов: {reason}; ничего не "
              "изменилось"},
    "internal error while reading {file}: {kind}": {
        "ru": "внутренняя ошибка при чтении {file}: {kind}. Сообщите разработчикам"},
    # --- YAML
    "YAML anchors and aliases (& and *) are not allowed in content: write each value out in "
    "full": {"ru": "якоря и ссылки YAML (& и *) в текстах запрещены: напишите каждое значение "
                   "полностью"},
    "nested more than {limit} levels deep": {
        "ru": "вложенность глубже {limit} уровней"},
    "more than {limit} values in one file": {
        "ru": "больше {limit} значений в одном файле"},
    "{value} is not a real date: write an existing day as YYYY-MM-DD": {
        "ru": "{value} — такой даты нет: напишите существующий день как ГГГГ-ММ-ДД"},
    "{value} cannot be read as a value: put it in quotes": {
        "ru": "{value} не читается как значение: возьмите его в кавычки"},
    "the YAML cannot be read ({kind})": {"ru": "поля не читаются ({kind})"},
    "'{field}' is written twice: keep one": {"ru": "'{field}' написано дважды: оставьте одно"},
    "broken YAML: {problem}": {"ru": "ошибка в записи полей (YAML): {problem}"},
    "a colon inside a value: put the value in quotes, e.g. title: \"SOS: help\"; or this line "
    "is indented more than the one above": {
        "ru": "двоеточие внутри значения: возьмите значение в кавычки, например "
              "title: \"SOS: помощь\"; или у строки отступ больше, чем у строки выше"},
    "a tab or a stray character (such as @ or `) at the start of a value: indent with spaces "
    "and put the value in quotes": {
        "ru": "табуляция или лишний знак (например @ или `) в начале значения: делайте "
              "отступы пробелами, а значение возьмите в кавычки"},
    "a quote opened here is never closed: add the closing quote": {
        "ru": "кавычка открыта здесь и не закрыта: добавьте закрывающую кавычку"},
    "this line is not 'name: value': add ': ', or a space after '-' in a list": {
        "ru": "строка не в виде 'поле: значение': добавьте ': ' или пробел после '-' в "
              "списке"},
    "a list opened with '[' here is not closed with ']', or a quote inside it is not closed": {
        "ru": "список открыт здесь скобкой '[' и не закрыт скобкой ']', или внутри него не "
              "закрыта кавычка"},
    "a backslash (\\) inside double quotes: use single quotes around this value": {
        "ru": "обратная косая черта (\\) внутри двойных кавычек: возьмите значение в "
              "одинарные кавычки"},
    "a value starts with '!': put the value in quotes": {
        "ru": "значение начинается с '!': возьмите его в кавычки"},
    "an invisible control character (code {code}): delete it and retype this line": {
        "ru": "невидимый управляющий знак (код {code}): удалите его и наберите строку заново"},
    "a tab character: indent with spaces only": {
        "ru": "знак табуляции: делайте отступы только пробелами"},
    "a curly bracket opened here is not closed": {
        "ru": "фигурная скобка открыта здесь и не закрыта"},
    "a second '---' line: the fields end at the first one, remove the extra line": {
        "ru": "вторая строка '---': поля кончаются на первой, уберите лишнюю строку"},
    "this line does not fit the lines above: check the indentation and the '-' of lists": {
        "ru": "строка не подходит к строкам выше: проверьте отступы и '-' в списках"},
    # --- topics
    "file name must be a topic id: lowercase latin letters, digits and '-', at most 40 "
    "characters": {"ru": "имя файла — это id темы: маленькие латинские буквы, цифры и '-', "
                         "не больше 40 знаков"},
    "'main' is reserved for 'parent: main'; choose another file name": {
        "ru": "имя 'main' занято для 'parent: main'; выберите другое имя файла"},
    "the file must start with a '---' line, then the fields, then '---'": {
        "ru": "файл должен начинаться строкой '---', потом поля, потом снова '---'"},
    "the fields are not closed: add a '---' line after them": {
        "ru": "поля не закрыты: добавьте после них строку '---'"},
    "the fields between '---' lines must be 'name: value' pairs": {
        "ru": "между строками '---' должны быть строки 'поле: значение'"},
    "unknown field '{field}' is ignored (known: {known})": {
        "ru": "неизвестное поле '{field}' пропущено (известные: {known})"},
    "title is required: the text of the topic's button": {
        "ru": "нужно поле title: надпись на кнопке темы"},
    "title is {length} characters; a button label may have at most {limit}": {
        "ru": "в title {length} знаков; на кнопке помещается не больше {limit}"},
    "parent is missing: write the id of its section, or 'parent: main' for a section of the "
    "main menu": {"ru": "нет поля parent: напишите id раздела, а для раздела главного меню — "
                        "'parent: main'"},
    "parent must be a topic id or 'main', got {value}": {
        "ru": "parent должен быть id темы или 'main', а написано {value}"},
    "a topic cannot be its own parent": {"ru": "тема не может быть разделом сама для себя"},
    "order must be a whole number, got {value}": {
        "ru": "order должен быть целым числом, а написано {value}"},
    "keywords must be a list: [word, word, …]": {
        "ru": "keywords должен быть списком: [слово, слово, …]"},
    "no keywords: search will find this topic only by its text": {
        "ru": "нет keywords: поиск найдёт тему только по тексту"},
    "reviewed is required: the date a person last checked this text, as YYYY-MM-DD": {
        "ru": "нужно поле reviewed: дата последней проверки текста, как ГГГГ-ММ-ДД"},
    "reviewed must be a date written as YYYY-MM-DD, got {value}": {
        "ru": "reviewed должен быть датой вида ГГГГ-ММ-ДД, а написано {value}"},
    "reviewed date {date} is in the future": {"ru": "дата reviewed {date} — в будущем"},
    "reviewed {days} days ago (more than {limit}); check the text and update 'reviewed'": {
        "ru": "текст проверяли {days} дней назад (больше {limit}): проверьте его и обновите "
              "'reviewed'"},
    "sources are required: a list saying where each fact comes from": {
        "ru": "нужно поле sources: список, откуда взят каждый факт"},
    "{field} must be a list of ids: [id, id]": {"ru": "{field} должен быть списком id: [id, id]"},
    "unknown action '{action}' (known: {known})": {
        "ru": "неизвестное действие '{action}' (известные: {known})"},
    "the text after the fields is empty": {"ru": "после полей нет текста"},
    "raw HTML is shown as plain text; use **bold** or _italic_": {
        "ru": "HTML бот покажет как обычный текст; пишите **жирный** или _курсив_"},
    "link must start with https://: {url}": {"ru": "ссылка должна начинаться с https://: {url}"},
    "numbered lists are not supported; write '1)' or use '- '": {
        "ru": "нумерованные списки не поддерживаются; пишите '1)' или '- '"},
    "missing translation: {lang}/{id}.md does not exist": {
        "ru": "нет перевода: файла {lang}/{id}.md нет"},
    "parent '{parent}' differs from {lang}/{id}.md ('{other}')": {
        "ru": "parent '{parent}' не такой, как в {lang}/{id}.md ('{other}')"},
    "parent '{parent}' does not exist: the topic would be unreachable from the menu": {
        "ru": "раздела '{parent}' нет: до темы нельзя будет дойти из меню"},
    "related topic '{id}' does not exist": {"ru": "темы '{id}' из related нет"},
    "menu cycle: '{id}' is inside itself via '{parent}'": {
        "ru": "меню по кругу: '{id}' оказывается внутри самой себя через '{parent}'"},
    "this topic is required: the bot's SOS and safety buttons open it": {
        "ru": "эта тема обязательна: её открывают кнопки SOS и «Безопасность»"},
    "contact '{id}' is not in contacts.yaml": {"ru": "номера '{id}' нет в contacts.yaml"},
    "contact '{id}' is not shown in any topic": {"ru": "номер '{id}' не показан ни в одной теме"},
    # --- pages and buttons
    "this paragraph makes a page of {length} characters; a phone screen holds about {limit}: "
    "split it with a blank line": {
        "ru": "с этим абзацем страница выходит в {length} знаков, а на экран телефона "
              "помещается около {limit}: разделите абзац пустой строкой"},
    "this paragraph makes a page of {length} characters; Telegram does not send more than "
    "{limit}: split it with a blank line": {
        "ru": "с этим абзацем страница выходит в {length} знаков, а Telegram не отправит больше "
              "{limit}: разделите абзац пустой строкой"},
    "the topic has {pages} pages; page buttons reach at most {limit}: shorten it or split it "
    "into several topics": {
        "ru": "в теме {pages} страниц, а кнопки листают не больше {limit}: сократите тему или "
              "разделите на несколько"},
    "topic id too long for a button ({data})": {
        "ru": "id темы слишком длинный для кнопки ({data})"},
    "{count} topics in one menu; more than {limit} buttons are hard to use on a phone": {
        "ru": "в одном меню {count} тем; больше {limit} кнопок на телефоне неудобно"},
    "the main menu would have {count} buttons; Telegram allows at most {limit}": {
        "ru": "в главном меню вышло бы {count} кнопок, а Telegram разрешает не больше {limit}"},
    "this screen would have {count} buttons; Telegram allows at most {limit}": {
        "ru": "на этом экране вышло бы {count} кнопок, а Telegram разрешает не больше {limit}"},
    # --- contacts.yaml
    "contacts.yaml is missing": {"ru": "нет файла contacts.yaml"},
    "contacts.yaml must have two parts: 'countries:' and 'contacts:'": {
        "ru": "в contacts.yaml должно быть две части: 'countries:' и 'contacts:'"},
    "'countries:' must map codes to names, e.g. KG: {ru: Кыргызстан, ky: Кыргызстан}": {
        "ru": "в 'countries:' пишите код и названия, например KG: {ru: Кыргызстан, "
              "ky: Кыргызстан}"},
    "country {code}: use a two-letter code and names for ky and ru": {
        "ru": "страна {code}: нужен код из двух латинских букв и названия на ky и ru"},
    "country {code}: no {lang} name": {"ru": "страна {code}: нет названия на {lang}"},
    "'contacts:' must be a list of '- id: …' entries": {
        "ru": "'contacts:' должен быть списком записей '- id: …'"},
    "each contact must be a set of 'field: value' lines": {
        "ru": "каждый номер — это строки 'поле: значение'"},
    "contact id '{id}' is used twice": {"ru": "id номера '{id}' встречается дважды"},
    "contact id {value}: use lowercase latin letters, digits and '-'": {
        "ru": "id номера {value}: пишите маленькими латинскими буквами, цифрами и '-'"},
    "contact '{contact}': unknown field '{field}' is ignored": {
        "ru": "номер '{contact}': неизвестное поле '{field}' пропущено"},
    "contact '{contact}': country {value} is not listed under 'countries:'": {
        "ru": "номер '{contact}': страны {value} нет в списке 'countries:'"},
    "contact '{contact}': phone is required": {"ru": "номер '{contact}': нужно поле phone"},
    "contact '{contact}': phone must be written in quotes, e.g. phone: \"+996 705 009 102\"": {
        "ru": "номер '{contact}': пишите phone в кавычках, например phone: \"+996 705 009 102\""},
    "contact '{contact}': phone {phone} cannot be dialled as written: use only digits, spaces, "
    "'-', brackets and a leading '+' (no letters, no extension)": {
        "ru": "номер '{contact}': {phone} нельзя набрать так, как написано: только цифры, "
              "пробелы, '-', скобки и '+' в начале (без букв и без добавочного)"},
    "contact '{contact}': phone {phone} is not a valid number for {country}; write it as "
    "+{code} … or as dialled inside that country": {
        "ru": "номер '{contact}': {phone} — неправильный номер для {country}; пишите его как "
              "+{code} … или так, как набирают внутри этой страны"},
    "contact '{contact}': name needs both ky and ru, e.g. name: {{ru: …, ky: …}}": {
        "ru": "номер '{contact}': в name нужны ky и ru, например name: {{ru: …, ky: …}}"},
    "contact '{contact}': {field} needs both ky and ru": {
        "ru": "номер '{contact}': в {field} нужны ky и ru"},
    "contact '{contact}': url must start with https://": {
        "ru": "номер '{contact}': url должен начинаться с https://"},
    "contact '{contact}': verified_on is required, as YYYY-MM-DD": {
        "ru": "номер '{contact}': нужно поле verified_on, как ГГГГ-ММ-ДД"},
    "contact '{contact}': verified_on {date} is in the future": {
        "ru": "номер '{contact}': дата verified_on {date} — в будущем"},
    "contact '{contact}': checked {days} days ago (more than {limit}); call it or check the "
    "source again": {
        "ru": "номер '{contact}': сверяли {days} дней назад (больше {limit}); позвоните или "
              "сверьте с источником снова"},
    "contact '{contact}': source is required: where this number was confirmed": {
        "ru": "номер '{contact}': нужно поле source: где номер подтверждён"},
    "contact '{contact}': {field} must be one of: {allowed}": {
        "ru": "номер '{contact}': {field} может быть только: {allowed}"},
    # --- languages (content/languages.yaml) and UI catalogs (bot/locales)
    "languages.yaml is missing: list the bot's languages in it, one a line": {
        "ru": "нет файла languages.yaml: перечислите в нём языки бота, по строке на язык"},
    "'{lang}' is partial: {count} topics are shown in '{fallback}' with a note: {ids}": {
        "ru": "'{lang}' — неполный язык: на '{fallback}' с пометкой показываются темы "
              "({count}): {ids}"},
    "language '{lang}' has no folder {lang}/ beside this file (a link is not followed): add "
    "it, or remove this line": {
        "ru": "у языка '{lang}' нет папки {lang}/ рядом с этим файлом (ссылки на папки не "
              "читаются): добавьте её или удалите эту строку"},
    "language '{lang}' has no catalog {file}: add it, or remove this line": {
        "ru": "у языка '{lang}' нет каталога {file}: добавьте его или удалите эту строку"},
    "folder '{lang}' is not a language listed in languages.yaml; its topics are not served: "
    "add a line there": {
        "ru": "папки '{lang}' нет в списке языков languages.yaml, её темы не показываются: "
              "добавьте туда строку"},
    "languages.yaml must list one language a line, e.g. {example}": {
        "ru": "в languages.yaml каждый язык пишется одной строкой, например {example}"},
    "language code {lang}: use two or three lowercase latin letters, e.g. uz": {
        "ru": "код языка {lang}: нужны две или три строчные латинские буквы, например uz"},
    "language '{lang}': write it as {example}": {
        "ru": "язык '{lang}': запишите его так: {example}"},
    "language '{lang}': unknown field '{field}' is ignored (known: {known})": {
        "ru": "язык '{lang}': неизвестное поле '{field}' пропущено (известные: {known})"},
    "language '{lang}': name is required: the language's own name": {
        "ru": "язык '{lang}': нужно поле name — название языка на нём самом"},
    "language '{lang}': state must be full or partial, got {value}": {
        "ru": "язык '{lang}': state может быть только full или partial, а не {value}"},
    "language '{lang}': a full language has every topic and no fallback": {
        "ru": "язык '{lang}': у полного языка есть все темы, fallback ему не нужен"},
    "language '{lang}': a partial language needs a fallback, e.g. fallback: ru": {
        "ru": "язык '{lang}': неполному языку нужен fallback, например fallback: ru"},
    "language '{lang}': fallback '{fallback}' must be a full language listed here": {
        "ru": "язык '{lang}': fallback '{fallback}' должен быть полным языком из этого списка"},
    "ru must be listed as a full language: it is the bot's default and the last fallback": {
        "ru": "ru должен быть в списке как полный язык: это язык бота по умолчанию и последний "
              "запасной"},
    "the catalog cannot be read ({kind})": {"ru": "каталог не читается ({kind})"},
    "the translation of \"{msgid}\" must use the placeholders {wanted} exactly as the message "
    "id does, got {got}": {
        "ru": "перевод \"{msgid}\" должен содержать те же поля {wanted}, что и исходная строка, "
              "а содержит {got}"},
}


# The checker's own lines around the problems.
SUMMARY: dict[str, dict[str, str]] = {
    "{topics} topics in {languages} languages, {contacts} contacts: {errors} errors, "
    "{warnings} warnings": {
        "ru": "тем: {topics}, языков: {languages}, номеров: {contacts}; ошибок: {errors}, "
              "предупреждений: {warnings}"},
    "{errors} errors, {warnings} warnings: content NOT loadable": {
        "ru": "ошибок: {errors}, предупреждений: {warnings}; тексты НЕ загрузятся"},
    "--strict: warnings count as errors": {
        "ru": "--strict: предупреждения считаются ошибками"},
}


def translate(key: str, values: Mapping[str, object], lang: str) -> str:
    """The message `key` in `lang`, placeholders filled; unknown keys are shown as they are."""
    entry = MESSAGES.get(key) or SUMMARY.get(key) or {}
    template = key if lang == "en" else entry.get(lang) or entry.get("ru") or key
    return template.format_map(values) if values else template
