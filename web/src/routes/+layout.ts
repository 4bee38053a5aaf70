// The Django admin's addresses end in a slash; staff have them bookmarked.
export const trailingSlash = 'always';
