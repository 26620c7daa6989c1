DELETE FROM role_permissions WHERE permission LIKE 'projects:%';
DROP TABLE files;
DROP TABLE tasks;
DROP TABLE milestones;
DROP TABLE project_members;
DROP TABLE projects;
