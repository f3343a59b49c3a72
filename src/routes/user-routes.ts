import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UserFacade } from '../facades/user-facade.js';
import { bearerToken } from '../http/bearer.js';
import { CreateUserSchema, DeleteUserSchema, GetUserSchema, UpdateUserSchema } from '../schemas/user.js';
import { clientInfo } from './client-info.js';

/** The seed's /user routes. */
export const userRoutes: FastifyPluginAsyncTypebox<{ users: UserFacade }> = async (app, { users }) => {
  app.post('/user', { schema: CreateUserSchema }, async (request, reply) => {
    const { username, password, email } = request.body;
    const result = await users.create(username, password, clientInfo(request), email);
    return reply.status(201).send(result);
  });

  app.get('/user', { schema: GetUserSchema }, async (request) => users.get(bearerToken(request)));

  app.put('/user', { schema: UpdateUserSchema }, async (request) => {
    const { username, password, email, current_password: currentPassword } = request.body;
    return users.update(
      bearerToken(request),
      { username, password, email, currentPassword },
      clientInfo(request),
    );
  });

  app.delete('/user', { schema: DeleteUserSchema }, async (request) =>
    users.delete(bearerToken(request), clientInfo(request)),
  );
};
