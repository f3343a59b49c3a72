/**
 * Keyward's mark, drawn for the API docs: a shield with a keyhole. `KEYWARD_MARK` is the mark alone (the
 * favicon); `KEYWARD_LOGO` adds the name beside it (the Swagger UI top bar, on its dark background).
 */
const SHIELD =
  '<path d="M20 2 35 8v11c0 9.5-6.4 16.6-15 19-8.6-2.4-15-9.5-15-19V8z" fill="#2f6fed"/>' +
  '<path d="M20 6.3 31 10.7V19c0 7.3-4.7 13-11 15.1C13.7 32 9 26.3 9 19v-8.3z" fill="#15306b"/>' +
  '<circle cx="20" cy="17" r="4.2" fill="#f4c430"/>' +
  '<path d="M18.2 19.5h3.6l1.4 8.5h-6.4z" fill="#f4c430"/>';

export const KEYWARD_MARK = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40">${SHIELD}</svg>`;

export const KEYWARD_LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 168 40" width="168" height="40" role="img" aria-label="Keyward">' +
  `<title>Keyward</title>${SHIELD}` +
  '<text x="44" y="28" font-family="Helvetica, Arial, sans-serif" font-size="23" font-weight="700" fill="#ffffff">Keyward</text>' +
  '</svg>';
