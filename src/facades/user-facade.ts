import { DomainError } from '../errors.js';
import type { User } from '../repositories/user-repository.js';
import type { SessionService } from '../services/session-service.js';
import type { AccountChanges, UserService } from '../services/user-service.js';

/** Account use cases behind the seed's /user routes (the seed's UserFacade). */
export class UserFacade {
  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

  /** Registers a new account. */
  async create(username: string, password: string): Promise<{ message: string; user: User }> {
    const user = await this.users.register(username, password);
    // Ids are never reused by the database, but a token store that outlived a database reset could still hold
    // sessions for this id: a new account starts with none.
    await this.sessions.revokeAll(user.id);
    return { message: 'User created successfully', user };
  }

  /** The caller's account. */
  async get(token: string): Promise<{ user: User; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const user = await this.users.find(auth.userId);
      if (!user) throw new DomainError('invalid_token');
      return { user };
    });
  }

  /** Changes username and/or password; a password change revokes every other session. */
  async update(
    token: string,
    changes: AccountChanges,
  ): Promise<{ message: string; user: User; token: string }> {
    const checked = this.users.checkChanges(changes);
    return this.sessions.withAuth(token, async (auth) => {
      const { user, passwordChanged } = await this.users.update(auth.userId, checked);
      if (passwordChanged) await this.sessions.revokeOthers(auth.userId, auth.sid);
      return { message: 'User updated successfully', user };
    });
  }

  /** Deletes the caller's account and revokes all of its sessions. */
  async delete(token: string): Promise<{ message: string }> {
    return this.sessions.guard(token, async (auth) => {
      await this.users.delete(auth.userId);
      await this.sessions.revokeAll(auth.userId);
      return { message: 'User deleted successfully' };
    });
  }
}
