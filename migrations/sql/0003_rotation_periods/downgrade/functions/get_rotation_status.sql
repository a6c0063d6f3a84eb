DROP FUNCTION IF EXISTS challenge.get_rotation_status(text);
