import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UserFacade } from '../facades/user-facade.js';
import { bearerToken } from '../http/bearer.js';
import { CreateUserSchema, DeleteUserSchema, GetUserSchema, UpdateUserSchema } from '../schemas/user.js';
import { clientInfo } from './client-info.js';

/** The seed's /user routes. */
export const userRoutes: FastifyPluginAsyncTypebox<{ users: UserFacade }> = async (app, { users }) => {
  app.post('/user', { schema: CreateUserSchema }, async (request, reply) => {
    const result = await users.create(request.body.username, request.body.password, clientInfo(request));
    return reply.status(201).send(result);
  });

  app.get('/user', { schema: GetUserSchema }, async (request) => users.get(bearerToken(request)));

  app.put('/user', { schema: UpdateUserSchema }, async (request) => {
    const { username, password, current_password: currentPassword } = request.body;
    return users.update(bearerToken(request), { username, password, currentPassword }, clientInfo(request));
  });

  app.delete('/user', { schema: DeleteUserSchema }, async (request) =>
    users.delete(bearerToken(request), clientInfo(request)),
  );
};
