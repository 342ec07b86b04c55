/**
 * The MCP endpoint's path as the router matches it: /mcp, or /mcp/ (the router is not strict about a
 * trailing slash). Every check before the router that singles out /mcp asks this, so an assistant
 * configured with …/mcp/ is treated as at /mcp (its bearer token read, its tool calls counted once).
 */
export const isMcpPath = (path: string) => path === '/mcp' || path === '/mcp/';
