-- Partners refer client organizations themselves.
INSERT INTO role_permissions (role, permission) VALUES ('partner', 'auth:organization.refer');
