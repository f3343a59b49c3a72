import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminFacade } from '../facades/admin-facade.js';
import { bearerToken } from '../http/bearer.js';
import {
  DisableUserSchema,
  EnableUserSchema,
  GetAdminUserSchema,
  ListUsersSchema,
  RevokeUserSessionsSchema,
  SetRolesSchema,
} from '../schemas/admin.js';
import { clientInfo } from './client-info.js';

/** The admin API of SPEC §12 (Bearer token of a user with role `admin`). */
export const adminRoutes: FastifyPluginAsyncTypebox<{ admin: AdminFacade }> = async (app, { admin }) => {
  app.get('/admin/users', { schema: ListUsersSchema }, async (request) => {
    const { query, limit, cursor } = request.query;
    return admin.listUsers(bearerToken(request), {
      query,
      limit: limit === undefined ? undefined : Number(limit),
      cursor,
    });
  });

  app.get('/admin/users/:id', { schema: GetAdminUserSchema }, async (request) =>
    admin.getUser(bearerToken(request), request.params.id),
  );

  app.post('/admin/users/:id/disable', { schema: DisableUserSchema }, async (request) =>
    admin.disable(bearerToken(request), request.params.id, clientInfo(request)),
  );

  app.post('/admin/users/:id/enable', { schema: EnableUserSchema }, async (request) =>
    admin.enable(bearerToken(request), request.params.id, clientInfo(request)),
  );

  app.put('/admin/users/:id/roles', { schema: SetRolesSchema }, async (request) =>
    admin.setRoles(bearerToken(request), request.params.id, request.body.roles, clientInfo(request)),
  );

  app.delete('/admin/users/:id/sessions', { schema: RevokeUserSessionsSchema }, async (request) =>
    admin.revokeSessions(bearerToken(request), request.params.id, clientInfo(request)),
  );
};
