import { Type, type Static } from 'typebox';
import { MAX_ROLES, ROLE_PATTERN } from '../services/roles.js';
import { errorResponses, Message, NextToken } from './common.js';

export const AdminUserView = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String({ description: 'As stored (NFKC form).' }),
    roles: Type.Array(Type.String(), { description: 'Sorted; none by default.' }),
    disabled: Type.Boolean({ description: 'A disabled account cannot log in and has no sessions.' }),
  },
  { title: 'AdminUser' },
);

export const AdminUserParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 32, description: 'The user id; an unknown one is 404.' }),
});
export type AdminUserParams = Static<typeof AdminUserParams>;

export const ListUsersQuery = Type.Object({
  query: Type.Optional(
    Type.String({
      maxLength: 256,
      description: 'Keep users whose username contains this (case-insensitively, after NFKC).',
    }),
  ),
  limit: Type.Optional(
    Type.String({ pattern: '^(?:[1-9][0-9]?|100)$', description: 'Page size, 1–100 (default 50).' }),
  ),
  cursor: Type.Optional(
    Type.String({ maxLength: 128, description: "The previous page's `next_cursor` (opaque)." }),
  ),
});
export type ListUsersQuery = Static<typeof ListUsersQuery>;

export const RolesBody = Type.Object({
  roles: Type.Array(Type.String({ pattern: ROLE_PATTERN }), {
    maxItems: MAX_ROLES,
    description: 'The complete new set of roles (letters, digits, `_ . : -`; 1–64 characters each).',
  }),
});
export type RolesBody = Static<typeof RolesBody>;

const adminSecurity = [{ bearer: [] }];
const adminErrors = (...extra: number[]) => errorResponses(400, 401, 403, ...extra, 413, 415, 503);

export const ListUsersSchema = {
  summary: 'Search and page through users (role admin)',
  tags: ['admin'],
  security: adminSecurity,
  querystring: ListUsersQuery,
  response: {
    200: Type.Object({
      users: Type.Array(AdminUserView),
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Pass as `cursor` for the next page; null on the last page.',
      }),
      token: NextToken,
    }),
    ...adminErrors(),
  },
};

export const GetAdminUserSchema = {
  summary: 'One user (role admin)',
  tags: ['admin'],
  security: adminSecurity,
  params: AdminUserParams,
  response: { 200: Type.Object({ user: AdminUserView, token: NextToken }), ...adminErrors(404) },
};

export const DisableUserSchema = {
  summary: 'Disable an account and revoke all its sessions (role admin)',
  tags: ['admin'],
  security: adminSecurity,
  params: AdminUserParams,
  response: {
    200: Type.Object({ message: Message, user: AdminUserView, revoked: Type.Integer(), token: NextToken }),
    ...adminErrors(404),
  },
};

export const EnableUserSchema = {
  summary: 'Enable a disabled account (role admin)',
  tags: ['admin'],
  security: adminSecurity,
  params: AdminUserParams,
  response: {
    200: Type.Object({ message: Message, user: AdminUserView, token: NextToken }),
    ...adminErrors(404),
  },
};

export const SetRolesSchema = {
  summary: "Replace a user's roles (role admin); removing a role revokes the user's sessions",
  tags: ['admin'],
  security: adminSecurity,
  params: AdminUserParams,
  body: RolesBody,
  response: {
    200: Type.Object({ message: Message, user: AdminUserView, revoked: Type.Integer(), token: NextToken }),
    ...adminErrors(404),
  },
};

export const RevokeUserSessionsSchema = {
  summary: 'Sign a user out everywhere (role admin)',
  tags: ['admin'],
  security: adminSecurity,
  params: AdminUserParams,
  response: {
    200: Type.Object({ message: Message, revoked: Type.Integer(), token: NextToken }),
    ...adminErrors(404),
  },
};
