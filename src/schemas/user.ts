import { Type, type Static } from 'typebox';
import { errorResponses, Message, NextToken, UserView } from './common.js';

// Upper bounds here only stop absurd inputs early; the password and username rules live in PasswordPolicy.
const Username = Type.String({
  maxLength: 256,
  description: '4–64 characters after NFKC; no spaces or control characters.',
});
const Password = Type.String({
  maxLength: 4096,
  description: 'Password policy of SPEC §4 (8–1024 characters by default).',
});

export const Email = Type.String({
  maxLength: 512,
  description: 'An email address; stored trimmed with the domain lower-cased, unique case-insensitively.',
});

export const CreateUserBody = Type.Object({
  username: Username,
  password: Password,
  email: Type.Optional(Email),
});
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object({
  username: Type.Optional(Username),
  password: Type.Optional(Password),
  email: Type.Optional(Email),
  current_password: Type.Optional(
    Type.String({
      maxLength: 4096,
      description: 'Required to change the username, the password or the email.',
    }),
  ),
});
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const CreateUserSchema = {
  summary: 'Create a user',
  tags: ['users'],
  body: CreateUserBody,
  response: {
    201: Type.Object({ message: Message, user: UserView }),
    ...errorResponses(400, 409, 413, 415, 429, 503),
  },
};

export const GetUserSchema = {
  summary: "The current user's account",
  tags: ['users'],
  security: [{ bearer: [] }],
  response: { 200: Type.Object({ user: UserView, token: NextToken }), ...errorResponses(401, 503) },
};

export const UpdateUserSchema = {
  summary: 'Change username, password and/or email',
  tags: ['users'],
  security: [{ bearer: [] }],
  body: UpdateUserBody,
  response: {
    200: Type.Object({ message: Message, user: UserView, token: NextToken }),
    // 429: a wrong current_password counts as a failed login for (username, IP).
    ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
  },
};

export const DeleteUserSchema = {
  summary: 'Delete the current account and revoke all its sessions',
  tags: ['users'],
  security: [{ bearer: [] }],
  // A DELETE may carry a body, which is parsed (and refused) like any other: 400, 413, 415.
  response: { 200: Type.Object({ message: Message }), ...errorResponses(400, 401, 413, 415, 503) },
};
