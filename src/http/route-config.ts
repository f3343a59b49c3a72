declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route accepts a request without a body (treated as `{}`). */
    optionalBody?: boolean;
  }
}

export {};
