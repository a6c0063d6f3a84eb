DROP FUNCTION IF EXISTS challenge.delete_user_data(text);
