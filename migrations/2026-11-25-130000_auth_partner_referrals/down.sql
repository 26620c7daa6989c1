DELETE FROM role_permissions WHERE permission = 'auth:organization.refer';
