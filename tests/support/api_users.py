"""The served workspace's users: name -> role (one per role, a second approver and admin)."""

USERS = {
    "pat": "planner",
    "ann": "approver",
    "amy": "approver",
    "ops": "mlops",
    "dan": "data_scientist",
    "root": "admin",
    "ada": "admin",
}
