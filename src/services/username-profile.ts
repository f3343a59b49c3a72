/**
 * Usernames per RFC 8265, the PRECIS `UsernameCaseMapped` profile (RFC 8264's IdentifierClass), written with
 * Node's Unicode property escapes: no well-kept PRECIS package exists on npm (docs/security.md, Usernames).
 *
 * Preparation and enforcement, in the RFC's order: width mapping (fullwidth and halfwidth forms to their
 * decompositions), case mapping (toLowerCase, for the comparison key only: the display form keeps its case, as
 * `UsernameCasePreserved` does), NFC, then every code point checked against IdentifierClass. On top of the
 * profile, names mixing scripts (Latin with Cyrillic, say) are refused, UTS #39's "highly restrictive" level, so
 * that two names differing only by look-alike letters of two scripts cannot both exist.
 */

/** Fullwidth and halfwidth forms (`<wide>` and `<narrow>` decompositions) and the ideographic space. */
const WIDTH_FORMS = /[\u3000\uFF01-\uFFEE]/gu;
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const OLD_HANGUL_JAMO = /^[\u1100-\u11FF\uA960-\uA97F\uD7B0-\uD7FF]$/u;
/** RFC 5892 §2.6 exceptions that IdentifierClass takes as valid or as disallowed whatever their category. */
const PVALID_EXCEPTIONS = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const DISALLOWED_EXCEPTIONS = new Set([
  0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b,
]);
const NEUTRAL_SCRIPT = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Georgian',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Nko',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Khmer',
  'Mongolian',
  'Ethiopic',
  'Cherokee',
  'Canadian_Aboriginal',
  'Hangul',
  'Hiragana',
  'Katakana',
  'Bopomofo',
  'Han',
  'Yi',
  'Coptic',
  'Glagolitic',
  'Tifinagh',
  'Javanese',
  'Balinese',
  'Sundanese',
  'Vai',
  'Adlam',
  'Osage',
  'Runic',
  'Ogham',
  'Gothic',
  'Deseret',
].map((name) => ({ name, pattern: new RegExp(`^\\p{Script=${name}}$`, 'u') }));
/** Scripts written together (UTS #39 "highly restrictive"): Japanese, Chinese with Bopomofo, Korean, with Latin. */
const SCRIPT_SETS = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

function hex(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The width mapping rule: fullwidth and halfwidth characters become their (compatibility) decompositions. */
export function mapWidth(text: string): string {
  return text.replace(WIDTH_FORMS, (char) => char.normalize('NFKC'));
}

/** Whether IdentifierClass allows this code point (RFC 8264 §9; context rules are refused outright). */
function allowed(char: string, codePoint: number): boolean {
  if (codePoint >= 0x21 && codePoint <= 0x7e) return true;
  if (DISALLOWED_EXCEPTIONS.has(codePoint)) return false;
  if (PVALID_EXCEPTIONS.has(codePoint)) return true;
  // Spaces, symbols, punctuation beyond ASCII, controls, format and unassigned code points, titlecase letters,
  // letter-like numbers and enclosing marks all fall outside the letter and digit categories.
  if (!LETTER_DIGIT.test(char) || IGNORABLE.test(char) || OLD_HANGUL_JAMO.test(char)) return false;
  // HasCompat: a compatibility character (a ligature, a circled letter) that the width mapping did not map.
  return char.normalize('NFKC') === char;
}

function scriptOf(char: string, codePoint: number): string | undefined {
  if (NEUTRAL_SCRIPT.test(char)) return undefined;
  // A script outside the list is named by its 128-code-point block, which keeps most scripts apart.
  return SCRIPTS.find((script) => script.pattern.test(char))?.name ?? `block ${hex(codePoint & ~0x7f)}`;
}

/** Why the profile refuses an already width-mapped, NFC name; undefined when it accepts it. */
export function usernameProblem(name: string): string | undefined {
  const scripts = new Set<string>();
  for (const char of name) {
    const codePoint = char.codePointAt(0) ?? 0;
    if (!allowed(char, codePoint)) {
      return codePoint === 0x20 || /^[\p{Cc}\p{Z}]$/u.test(char)
        ? 'username must not contain spaces or control characters'
        : `username must not contain ${hex(codePoint)}: only letters, digits and ASCII punctuation`;
    }
    const script = scriptOf(char, codePoint);
    if (script !== undefined) scripts.add(script);
  }
  if (scripts.size > 1 && !SCRIPT_SETS.some((set) => [...scripts].every((s) => set.has(s)))) {
    return `username must not mix scripts (${[...scripts].sort().join(', ')})`;
  }
  return undefined;
}

/** The display form of a submitted name: width-mapped and NFC, its case kept. */
export function prepareUsername(raw: string): string {
  return mapWidth(raw).normalize('NFC');
}
