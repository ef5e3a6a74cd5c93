"""Teams: a personal team per user, teams made by users, and their members' roles."""
